import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { InboundAuth } from "./a2a/inbound-auth.js";
import { answerRpc, RPC } from "./a2a/server.js";
import type { A2AService } from "./a2a/service.js";
import { applyLimits, isClientAbort, resolveLimits, type ServerLimits, serverOptions } from "./http-limits.js";
import { sendJson as send } from "./http-reply.js";

export const MAX_BODY_BYTES = 1024 * 1024;

export interface Probe {
  ok: boolean;
  body: Record<string, unknown>;
}

export interface RoutesOptions {
  a2a: A2AService;
  card(): Record<string, unknown>;
  livez(): Probe;
  readyz(): Promise<Probe>;
  metrics(): Promise<{ contentType: string; body: string }>;
  onError(error: unknown): void;
  /** A client went away mid-request (not the daemon's error; logged below ERROR). */
  onClientAbort?(error: unknown): void;
  /** Request-arrival deadlines and the connection cap (http-limits.ts). */
  limits?: ServerLimits;
  /** `a2a.auth`: who may call `POST /` (and `/metrics` with `a2a.metrics_auth`). Absent: anyone. */
  auth?: InboundAuth;
}

/** 401 for a missing or wrong token; what was presented is neither logged nor echoed. */
function unauthorized(res: ServerResponse): void {
  res.setHeader("www-authenticate", 'Bearer realm="a2a"');
  send(res, 401, {
    jsonrpc: "2.0",
    id: null,
    error: {
      code: RPC.INVALID_REQUEST,
      message: "Unauthorized: send the workspace's A2A token as Authorization: Bearer <token>",
    },
  });
}

/** Reads the body, refusing more than MAX_BODY_BYTES. Resolves undefined when it was too large. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * The daemon's one HTTP listener: A2A JSON-RPC at `POST /`, the agent card, and the orchestrator's
 * probes (`/livez`, `/readyz`, `/metrics` — they carry no secrets). With `auth`, `POST /` (and
 * `/metrics` when `auth.metricsAuth`) needs a valid bearer token; the card and probes stay open. @internal
 */
export function createHttpServer(options: RoutesOptions): Server {
  const limits = resolveLimits(options.limits);
  const server = createServer(serverOptions(limits), (req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    const route = `${req.method ?? "GET"} ${url}`;
    const handle = async () => {
      switch (route) {
        case "POST /": {
          const authed = options.auth ? await options.auth.check(req.headers.authorization) : undefined;
          if (authed && !authed.ok) {
            req.resume();
            unauthorized(res);
            return;
          }
          const body = await readBody(req);
          if (body === undefined) {
            send(res, 413, {
              jsonrpc: "2.0",
              id: null,
              error: { code: RPC.INVALID_REQUEST, message: `Request body larger than ${MAX_BODY_BYTES} bytes` },
            });
            return;
          }
          await answerRpc(res, body, options.a2a, authed?.caller);
          return;
        }
        case "GET /.well-known/agent-card.json":
        case "GET /.well-known/agent.json":
          send(res, 200, options.card());
          return;
        case "GET /livez": {
          const probe = options.livez();
          send(res, probe.ok ? 200 : 503, probe.body);
          return;
        }
        case "GET /readyz": {
          const probe = await options.readyz();
          send(res, probe.ok ? 200 : 503, probe.body);
          return;
        }
        case "GET /metrics": {
          if (options.auth?.metricsAuth && !(await options.auth.check(req.headers.authorization)).ok) {
            unauthorized(res);
            return;
          }
          const metrics = await options.metrics();
          send(res, 200, metrics.body, metrics.contentType);
          return;
        }
        default:
          send(res, 404, { error: "not found" });
      }
    };
    handle().catch((error: unknown) => {
      if ((req.destroyed || res.destroyed) && isClientAbort(error)) {
        options.onClientAbort?.(error);
        return;
      }
      options.onError(error);
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  // The request must arrive in time; its response may take the whole turn (no inactivity timeout).
  applyLimits(server, limits);
  return server;
}
