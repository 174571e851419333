import { errnoCode } from "@molecule/internal";
import type { Agent, Dispatcher } from "undici";
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

type Undici = typeof import("undici");
let undici: Promise<Undici> | undefined;
/** undici once loaded. */
let undiciLoaded: Undici | undefined;

/**
 * undici, imported once and only after a first request: its import costs more than the first beat
 * itself on a cold start, so the first requests go on Node's built-in fetch while it loads. @internal
 */
export function loadUndici(): Promise<Undici> {
  undici ??= import("undici").then((lib) => {
    undiciLoaded = lib;
    return lib;
  });
  return undici;
}

function newAgent(lib: Undici): Agent {
  return new lib.Agent({ keepAliveTimeout: 4_000, connections: 4 });
}

/** A response as both transports give it. */
interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** `undefined` for a body-less response. */
  body: AsyncIterable<Uint8Array> | undefined;
  /** Stops reading the body (the connection goes). */
  discard(): void;
}

/** One request on an undici dispatcher (`Dispatcher.request`, as undici's `request()` does it). */
async function viaDispatcher(
  via: Dispatcher,
  req: HttpRequest,
  headers: Record<string, string>,
  body: string | null,
  signal: AbortSignal,
): Promise<Raw> {
  const url = new URL(req.url);
  const res = await via.request({
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: req.method,
    headers,
    body,
    signal,
  });
  const discard = () => {
    // Destroying an unread undici body emits "Request aborted": without a listener that is an
    // uncaught exception (as it was when a declared body was over the limit).
    res.body.on("error", () => {});
    res.body.destroy();
  };
  return { status: res.statusCode, headers: res.headers, body: res.body, discard };
}

/** One request on Node's built-in fetch (no redirects followed, as undici's `request()`). */
async function viaFetch(
  req: HttpRequest,
  headers: Record<string, string>,
  body: string | null,
  signal: AbortSignal,
): Promise<Raw> {
  let res: Response;
  try {
    // `connection: close`: the own Agent carries the later requests, so fetch's pool would only keep
    // an idle socket (a fleet of loops in one process would hold one each until its keep-alive ends).
    const once = { ...headers, connection: "close" };
    res = await fetch(req.url, { method: req.method, headers: once, body, signal, redirect: "manual" });
  } catch (error) {
    // fetch wraps the socket's error ("fetch failed"): the cause carries its code and words.
    throw error instanceof TypeError && error.cause !== undefined ? error.cause : error;
  }
  const out: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    out[key] = value;
  });
  const stream = res.body;
  return {
    status: res.status,
    headers: out,
    body: stream ?? undefined,
    discard: () => void stream?.cancel().catch(() => {}),
  };
}

/**
 * A small HTTP client: per-request timeout driven by the injected clock, status of every response
 * reported, bodies always drained (and bounded), one retry on a fresh connection after a reset.
 * Requests go on the given undici dispatcher; without one, on an own keep-alive undici Agent once
 * undici has loaded (it is imported after the first request), on Node's fetch before that. A client
 * made once undici is loaded starts on its Agent (`fetchFirst`, for tests, sends its first request on
 * fetch all the same).
 * @internal
 */
export function createHttpClient(options: {
  clock: Clock;
  dispatcher?: Dispatcher | undefined;
  fetchFirst?: boolean;
}): HttpClient {
  const owned = options.dispatcher === undefined;
  let dispatcher: Dispatcher | undefined =
    options.dispatcher ?? (undiciLoaded && !options.fetchFirst ? newAgent(undiciLoaded) : undefined);
  let closed = false;
  const { clock } = options;

  /** Owned only: after a first request, load undici and move to an own Agent (fetch until then). */
  const warm = () => {
    if (!owned || dispatcher !== undefined) return;
    loadUndici().then(
      (lib) => {
        if (!closed && dispatcher === undefined) dispatcher = newAgent(lib);
      },
      () => {}, // undici missing or broken: fetch carries on
    );
  };

  const once = async (req: HttpRequest, via: Dispatcher | undefined): Promise<HttpResult> => {
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
      const res = via
        ? await viaDispatcher(via, req, headers, body, controller.signal)
        : await viaFetch(req, headers, body, controller.signal).catch(async (error: unknown) => {
            // fetch refuses some ports outright ("bad port": 1, 6000, 10080, …); undici does not
            if (!(error instanceof Error && error.message === "bad port")) throw error;
            dispatcher ??= newAgent(await loadUndici());
            return viaDispatcher(dispatcher, req, headers, body, controller.signal);
          });
      const limit = req.maxBodyBytes ?? MAX_BODY_BYTES;
      const length = Number(res.headers["content-length"]);
      const declared = Number.isFinite(length) && length >= 0 ? length : undefined;
      const base = { kind: "response" as const, status: res.status, headers: res.headers };
      // A bounded read: a body over the limit is never buffered, whatever it holds (the connection goes).
      if (declared !== undefined && declared > limit) {
        res.discard();
        return { ...base, text: "", tooLarge: { limit, declared } };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body ?? []) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (size > limit) {
          res.discard();
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
    if (old === undefined) {
      // Still on fetch: its connection went with the error; the own Agent comes once undici loads.
      warm();
      return true;
    }
    // An own dispatcher exists only once undici has loaded.
    dispatcher = undiciLoaded ? newAgent(undiciLoaded) : undefined;
    // Graceful: a request still running on the old pool (e.g. a platform check) may finish.
    old.close().catch(() => {});
    return true;
  };

  return {
    async send(req) {
      const first = await once(req, dispatcher);
      warm();
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
      closed = true;
      if (owned && dispatcher !== undefined) await dispatcher.close().catch(() => {});
      dispatcher = undefined;
    },
  };
}
