import { errnoCode } from "@molecule/internal";
import { Agent, type Dispatcher, request } from "undici";
import { type Clock, errorText } from "./types.js";

/** @internal */
export type HttpResult =
  | {
      kind: "response";
      status: number;
      headers: Record<string, string | string[] | undefined>;
      /** The body as text; empty when `tooLarge`. */
      text: string;
      /** The body passed `maxBodyBytes` (by its content-length or as it streamed): not read further, `text` empty. */
      tooLarge?: { limit: number; declared: number | undefined };
    }
  | { kind: "error"; failure: "timeout" | "reset" | "transport" | "aborted"; message: string };

/** @internal */
export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** Aborts the request (e.g. on stop()). */
  signal?: AbortSignal;
  /** The largest body read, bytes (default 1 MiB): a larger one is refused unread (`tooLarge`). */
  maxBodyBytes?: number;
}

/** @internal */
export interface HttpClient {
  /** One request; a reset on a pooled connection is retried once on a fresh one. Never throws. */
  send(req: HttpRequest): Promise<HttpResult>;
  /** Drops the pooled connections (only when the client owns its dispatcher). Returns whether it did. */
  rebuild(): boolean;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1_048_576;
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

class TimeoutSignal extends Error {}

function isReset(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth += 1) {
    const code = errnoCode(e);
    if (code && RESET_CODES.has(code)) return true;
    e = typeof e === "object" ? (e as { cause?: unknown }).cause : undefined;
  }
  return false;
}

function newAgent(): Agent {
  return new Agent({ keepAliveTimeout: 4_000, connections: 4 });
}

/**
 * A small undici client: per-request timeout driven by the injected clock, status of every response
 * reported, bodies always drained, one retry on a fresh connection after a reset.
 * @internal
 */
export function createHttpClient(options: { clock: Clock; dispatcher?: Dispatcher | undefined }): HttpClient {
  const owned = options.dispatcher === undefined;
  let dispatcher: Dispatcher = options.dispatcher ?? newAgent();
  const { clock } = options;

  const once = async (req: HttpRequest, via: Dispatcher): Promise<HttpResult> => {
    const controller = new AbortController();
    let timedOut = false;
    const timer = clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new TimeoutSignal("timeout"));
    }, req.timeoutMs);
    const onAbort = () => controller.abort(req.signal?.reason);
    if (req.signal?.aborted) onAbort();
    else req.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const headers: Record<string, string> = { ...req.headers };
      let body: string | null = null;
      if (req.body !== undefined) {
        body = JSON.stringify(req.body);
        headers["content-type"] = "application/json";
      }
      const res = await request(req.url, {
        method: req.method,
        headers,
        body,
        dispatcher: via,
        signal: controller.signal,
      });
      const limit = req.maxBodyBytes ?? MAX_BODY_BYTES;
      const length = Number(res.headers["content-length"]);
      const declared = Number.isFinite(length) && length >= 0 ? length : undefined;
      const base = { kind: "response" as const, status: res.statusCode, headers: res.headers };
      // A bounded read: a body over the limit is never buffered, whatever it holds (the connection goes).
      if (declared !== undefined && declared > limit) {
        res.body.destroy();
        return { ...base, text: "", tooLarge: { limit, declared } };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > limit) {
          res.body.destroy();
          return { ...base, text: "", tooLarge: { limit, declared } };
        }
        chunks.push(buf);
      }
      return { ...base, text: Buffer.concat(chunks).toString("utf8") };
    } catch (error) {
      if (timedOut) return { kind: "error", failure: "timeout", message: `no answer within ${req.timeoutMs} ms` };
      if (req.signal?.aborted) return { kind: "error", failure: "aborted", message: "aborted" };
      return { kind: "error", failure: isReset(error) ? "reset" : "transport", message: errorText(error) };
    } finally {
      clock.clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
    }
  };

  const rebuild = (): boolean => {
    if (!owned) return false;
    const old = dispatcher;
    dispatcher = newAgent();
    // Graceful: a request still running on the old pool (e.g. a platform check) may finish.
    old.close().catch(() => {});
    return true;
  };

  return {
    async send(req) {
      const first = await once(req, dispatcher);
      if (first.kind !== "error" || first.failure !== "reset") return first;
      // The server closed a pooled keep-alive connection while it sat idle: once more on a fresh
      // connection (a new pool when we own it; the reset socket is gone from an injected one).
      rebuild();
      const second = await once(req, dispatcher);
      if (second.kind === "error" && second.failure === "reset") return { ...second, failure: "transport" };
      return second;
    },
    rebuild,
    async close() {
      if (owned) await dispatcher.close().catch(() => {});
    },
  };
}
