import type { IncomingMessage, Server, ServerOptions, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * How long a request may take to *arrive*, and how many connections may be open, on every server
 * the daemon runs. Nothing here times out a response that is pending: the platform holds
 * `message/send` open for the whole turn and a stream may be quiet for minutes between events.
 */
export interface ServerLimits {
  /** The request line and headers must arrive within this, from the connection's first byte wait (default 60 000 ms). */
  headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this, else 408 and the socket is closed (default 60 000 ms). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this between requests (default 65 000 ms). */
  keepAliveTimeoutMs?: number;
  /**
   * Connections served at once (default 256; `a2a.max_connections`). Beyond it a new connection's
   * request is answered 503 with `Retry-After`; beyond twice it, a new connection is closed at once.
   */
  maxConnections?: number;
}

export const DEFAULT_LIMITS = {
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 256,
} as const satisfies Required<ServerLimits>;

function positive(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The limits with defaults filled in; headers can never be given longer than the whole request. @internal */
export function resolveLimits(limits: ServerLimits = {}): Required<ServerLimits> {
  const requestTimeoutMs = positive(limits.requestTimeoutMs, DEFAULT_LIMITS.requestTimeoutMs);
  return {
    requestTimeoutMs,
    headersTimeoutMs: Math.min(requestTimeoutMs, positive(limits.headersTimeoutMs, DEFAULT_LIMITS.headersTimeoutMs)),
    keepAliveTimeoutMs: positive(limits.keepAliveTimeoutMs, DEFAULT_LIMITS.keepAliveTimeoutMs),
    maxConnections: Math.floor(positive(limits.maxConnections, DEFAULT_LIMITS.maxConnections)),
  };
}

/**
 * The `createServer` options for these limits: Node checks the header and request deadlines every
 * `connectionsCheckingInterval` (30 s by default, too coarse for short test limits). @internal
 */
export function serverOptions(limits: Required<ServerLimits>): ServerOptions {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(shortest / 4))),
  };
}

/** What a connection over the cap is told: come back after this many seconds. */
export const OVER_CAP_RETRY_AFTER_S = 5;
/** A connection over the cap must send its request within this, else it is closed. */
const OVER_CAP_REQUEST_MS = 5_000;

function answerOverCap(req: IncomingMessage, res: ServerResponse, cap: number): void {
  req.resume();
  const body = JSON.stringify({
    error: `too many connections (the server's cap is ${cap}): retry after ${OVER_CAP_RETRY_AFTER_S} s`,
  });
  res.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "retry-after": String(OVER_CAP_RETRY_AFTER_S),
    connection: "close",
  });
  res.end(body);
}

/**
 * Counts the connections being served: one beyond `cap` is not served but answered 503 with
 * `Retry-After` (and closed), so a client learns to come back instead of seeing a silent close; it
 * must send its request within a few seconds. Node closes any beyond twice the cap at once.
 */
function guardConnections(server: Server, cap: number, headersTimeoutMs: number): void {
  const served = new Set<Socket>();
  const overCap = new WeakSet<Socket>();
  server.on("connection", (socket: Socket) => {
    if (served.size >= cap) {
      overCap.add(socket);
      socket.setTimeout(Math.min(OVER_CAP_REQUEST_MS, headersTimeoutMs), () => socket.destroy());
      return;
    }
    served.add(socket);
    socket.once("close", () => served.delete(socket));
  });
  const handlers = server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (overCap.has(req.socket)) {
      answerOverCap(req, res, cap);
      return;
    }
    for (const handler of handlers) handler.call(server, req, res);
  });
}

/**
 * Applies the limits to a created server (the ones `createServer` options do not cover); call it
 * after the request handler is attached. @internal
 */
export function applyLimits(server: Server, limits: Required<ServerLimits>): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // No inactivity timeout: a response may be pending for the whole turn.
  server.timeout = 0;
  server.maxConnections = 2 * limits.maxConnections;
  guardConnections(server, limits.maxConnections, limits.headersTimeoutMs);
}

/** A client that went away (closed the socket mid-request): its business, not the daemon's error. @internal */
export function isClientAbort(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE") return true;
  return error instanceof Error && error.message === "aborted";
}
