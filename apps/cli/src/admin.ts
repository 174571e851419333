import { request } from "node:http";
import { join, resolve } from "node:path";
import { CliError } from "./errors.js";

/** What the daemon's admin socket answers on `GET /status` (apps/runtime's `RuntimeStatus`). */
export interface DaemonStatus {
  workspaceId: string;
  url: string;
  registered: boolean;
  ready: boolean;
  draining: boolean;
  platformStatus: string | undefined;
  wedge: { wedged: boolean; reason: string; code?: string; since?: string };
  currentTask: string;
  activeTasks: number;
  queuedTasks: number;
  lastOutcome: string | undefined;
  beats: { ok: number; failed: number };
  uptimeSeconds: number;
}

/** Where the admin socket of the daemon for this environment lives: `<state dir>/admin.sock`. */
export async function adminSocketPath(
  env: Readonly<Record<string, string | undefined>>,
  options: { config?: string | undefined; stateDir?: string | undefined },
): Promise<string> {
  if (options.stateDir !== undefined) return join(resolve(options.stateDir), "admin.sock");
  const { resolveSettings } = await import("@molecule/config");
  const scoped = {
    ...env,
    ...(options.config !== undefined ? { WORKSPACE_CONFIG_PATH: resolve(options.config) } : {}),
  };
  return join(resolveSettings(scoped).settings.stateDir, "admin.sock");
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

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Checks the shape of a `GET /status` answer; undefined when it is not one. */
export function parseDaemonStatus(json: unknown): DaemonStatus | undefined {
  if (!isRecord(json) || typeof json.workspaceId !== "string" || !isRecord(json.wedge) || !isRecord(json.beats)) {
    return undefined;
  }
  const wedge = json.wedge;
  const since = str(wedge.since);
  const code = str(wedge.code);
  return {
    workspaceId: json.workspaceId,
    url: str(json.url) ?? "",
    registered: json.registered === true,
    ready: json.ready === true,
    draining: json.draining === true,
    platformStatus: str(json.platformStatus),
    wedge: {
      wedged: wedge.wedged === true,
      reason: str(wedge.reason) ?? "",
      ...(code !== undefined ? { code } : {}),
      ...(since !== undefined ? { since } : {}),
    },
    currentTask: str(json.currentTask) ?? "",
    activeTasks: num(json.activeTasks),
    queuedTasks: num(json.queuedTasks),
    lastOutcome: str(json.lastOutcome),
    beats: { ok: num(json.beats.ok), failed: num(json.beats.failed) },
    uptimeSeconds: num(json.uptimeSeconds),
  };
}

export async function fetchDaemonStatus(socketPath: string): Promise<DaemonStatus> {
  const { status, json } = await adminRequest(socketPath, "GET", "/status");
  const parsed = status === 200 ? parseDaemonStatus(json) : undefined;
  if (!parsed) {
    throw new CliError({ code: "E_ADMIN", message: `the daemon answered GET /status with ${status} and no status` });
  }
  return parsed;
}
