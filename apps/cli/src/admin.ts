import { request } from "node:http";
import { join, resolve } from "node:path";
import {
  ADMIN_SOCKET_FILE,
  type AdminStatus,
  type AdminTaskRequest,
  adminErrorResponseSchema,
  adminStatusSchema,
  adminTaskResponseSchema,
} from "@molecule/runtime/admin";
import { CliError } from "./errors.js";

/** Which daemon a command talks to: the one whose state dir is `stateDir`, else the one for `config`. */
export interface DaemonTarget {
  config?: string;
  stateDir?: string;
}

/** Where the admin socket of the daemon for this environment lives: `<state dir>/admin.sock`. */
export async function adminSocketPath(
  env: Readonly<Record<string, string | undefined>>,
  options: DaemonTarget,
): Promise<string> {
  if (options.stateDir !== undefined) return join(resolve(options.stateDir), ADMIN_SOCKET_FILE);
  const { resolveSettings } = await import("@molecule/config");
  const scoped = {
    ...env,
    ...(options.config !== undefined ? { WORKSPACE_CONFIG_PATH: resolve(options.config) } : {}),
  };
  return join(resolveSettings(scoped).settings.stateDir, ADMIN_SOCKET_FILE);
}

/** One request to the admin socket; resolves with the status code and the parsed JSON body. */
export function adminRequest(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath,
        method,
        path,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            return reject(
              new CliError({
                code: "E_ADMIN",
                message: `the daemon's admin socket answered non-JSON (${res.statusCode})`,
              }),
            );
          }
          resolvePromise({ status: res.statusCode ?? 0, json });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ECONNREFUSED") {
        reject(
          new CliError({
            code: "E_NO_DAEMON",
            message: `no daemon is running for this workspace (no admin socket at ${socketPath}). Start one with \`molecule run\`, or point at its state dir with --state-dir DIR (or MOLECULE_STATE_DIR).`,
            cause: error,
          }),
        );
        return;
      }
      reject(
        new CliError({
          code: "E_ADMIN",
          message: `cannot talk to the daemon at ${socketPath}: ${error.code ?? error.message}`,
          cause: error,
        }),
      );
    });
    req.end(payload);
  });
}

/** `GET /status`, parsed with the daemon's own schema. */
export async function fetchDaemonStatus(socketPath: string): Promise<AdminStatus> {
  const { status, json } = await adminRequest(socketPath, "GET", "/status");
  const parsed = status === 200 ? adminStatusSchema.safeParse(json) : undefined;
  if (!parsed?.success) {
    throw new CliError({ code: "E_ADMIN", message: `the daemon answered GET /status with ${status} and no status` });
  }
  return parsed.data;
}

/**
 * `POST /task`: sets the label (or clears it with `null`). Resolves with the label now reported, or
 * with the daemon's reason for refusing it.
 */
export async function postTaskLabel(
  socketPath: string,
  request: AdminTaskRequest,
): Promise<{ ok: true; currentTask: string } | { ok: false; error: string }> {
  const { status, json } = await adminRequest(socketPath, "POST", "/task", request);
  const accepted = status === 200 ? adminTaskResponseSchema.safeParse(json) : undefined;
  if (accepted?.success) return { ok: true, currentTask: accepted.data.currentTask };
  const refused = adminErrorResponseSchema.safeParse(json);
  return { ok: false, error: refused.success ? refused.data.error : `status ${status}` };
}
