import { chmod, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { TaskTracker } from "@molecule/heartbeat";
import { applyLimits, resolveLimits, type ServerLimits, serverOptions } from "../http-limits.js";
import {
  ADMIN_SOCKET_FILE,
  type AdminBeatResponse,
  type AdminErrorResponse,
  type AdminStatus,
  type AdminTaskResponse,
  adminTaskRequestSchema,
} from "./protocol.js";

/** Longest task label kept (longer ones are cut). */
const MAX_LABEL_CHARS = 200;

export interface AdminServerOptions {
  /** The directory the socket goes in (`admin.sock`, mode 0600). */
  stateDir: string;
  status(): AdminStatus;
  /** The heartbeat's task tracker (`POST /task` sets its label). */
  tracker: Pick<TaskTracker, "setLabel" | "snapshot">;
  /** The heartbeat, once it runs (`POST /beat` does nothing before). */
  heartbeat(): { beatNow(reason: string): unknown } | undefined;
  /** Request-arrival deadlines (the A2A server's); at most 32 connections. */
  limits?: ServerLimits;
}

/** The admin HTTP API (admin/protocol.ts) on a Unix socket: what `molecule status` and `molecule task` talk to. @internal */
export function createAdminServer(options: AdminServerOptions): Server {
  const limits = resolveLimits({ ...options.limits, maxConnections: 32 });
  const server = createServer(serverOptions(limits), (req, res) => {
    const reply = (code: number, body: AdminStatus | AdminTaskResponse | AdminBeatResponse | AdminErrorResponse) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      if (chunks.length < 64) chunks.push(c);
    });
    req.on("end", () => {
      const route = `${req.method} ${req.url}`;
      if (route === "GET /status") return reply(200, options.status());
      if (route === "POST /beat") {
        void options.heartbeat()?.beatNow("operator");
        return reply(200, { ok: true });
      }
      if (route === "POST /task") {
        let raw: unknown;
        try {
          raw = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
        } catch {
          return reply(400, { error: 'body must be JSON {"label": string | null}' });
        }
        const body = adminTaskRequestSchema.safeParse(raw);
        if (!body.success) return reply(400, { error: "label must be a string or null" });
        const { label } = body.data;
        options.tracker.setLabel(typeof label === "string" ? label.slice(0, MAX_LABEL_CHARS) : undefined);
        return reply(200, { ok: true, currentTask: options.tracker.snapshot().currentLabel });
      }
      return reply(404, { error: "not found" });
    });
  });
  applyLimits(server, limits);
  return server;
}

/** Listens on `<stateDir>/admin.sock` (a stale socket file is replaced) with mode 0600. @internal */
export async function listenAdmin(options: AdminServerOptions): Promise<{ server: Server; socket: string }> {
  const socket = join(options.stateDir, ADMIN_SOCKET_FILE);
  await rm(socket, { force: true });
  const server = createAdminServer(options);
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(socket, () => resolveListen());
  });
  await chmod(socket, 0o600);
  return { server, socket };
}
