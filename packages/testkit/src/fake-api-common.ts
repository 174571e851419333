import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { TestkitError } from "./errors.js";
import { plainHeaders } from "./http-util.js";

/**
 * The failure modes shared by the OpenAI Responses and Gemini fakes (the Anthropic fake's, plus `empty`):
 * - `ok`: the scripted reply
 * - `empty`: a successful answer with no text
 * - `status:<code>` or `status:<code>:retry-after=<s>`: an error body in the API's own shape
 * - `hang`: never answers (until `close()`)
 * - `stall-after-start`: 200 and the first event(s), then nothing
 * - `drop`: resets the connection without an answer
 * - `fail-first:<n>` or `fail-first:<n>:<code>`: the next n requests fail with `<code>` (default 500), then `ok`
 */
export type CommonApiMode =
  | "ok"
  | "empty"
  | "hang"
  | "stall-after-start"
  | "drop"
  | `status:${number}`
  | `status:${number}:retry-after=${number}`
  | `fail-first:${number}`
  | `fail-first:${number}:${number}`;

/** One mode resolved for one request (a `fail-first` becomes `status` or `ok`). @internal */
export type ResolvedMode =
  | { kind: string; status?: undefined; retryAfter?: undefined }
  | { kind: "status"; status: number; retryAfter: number | undefined };

type ParsedMode = ResolvedMode | { kind: "fail-first"; n: number; status: number };

const BASE_KINDS = ["ok", "empty", "hang", "stall-after-start", "drop"];

function parseMode(mode: string, extraKinds: readonly string[], fn: string, failStatus: number): ParsedMode {
  if (BASE_KINDS.includes(mode) || extraKinds.includes(mode)) return { kind: mode };
  const status = /^status:(\d{3})(?::retry-after=(\d+))?$/.exec(mode);
  if (status?.[1] !== undefined) {
    return {
      kind: "status",
      status: Number(status[1]),
      retryAfter: status[2] === undefined ? undefined : Number(status[2]),
    };
  }
  const fail = /^fail-first:(\d+)(?::(\d{3}))?$/.exec(mode);
  if (fail?.[1] !== undefined) return { kind: "fail-first", n: Number(fail[1]), status: Number(fail[2] ?? failStatus) };
  throw new TestkitError({
    code: "E_TESTKIT_BAD_OPTION",
    message: `${fn}: unknown mode "${mode}"; use ${[...BASE_KINDS, ...extraKinds].join(", ")}, status:<code>[:retry-after=<s>] or fail-first:<n>[:<code>]`,
  });
}

/**
 * The current mode and its `fail-first` count. `failStatus` is a `fail-first` without a code's
 * status (default 500; the Anthropic fake's is 529, "Overloaded"). @internal
 */
export function modeState(initial: string, extraKinds: readonly string[], fn: string, failStatus = 500) {
  let mode = parseMode(initial, extraKinds, fn, failStatus);
  let failuresLeft = mode.kind === "fail-first" && "n" in mode ? mode.n : 0;
  const resolve = (consume: boolean): { resolved: ResolvedMode; name: string } => {
    if (mode.kind === "fail-first" && "n" in mode) {
      if (failuresLeft > 0) {
        if (consume) failuresLeft -= 1;
        return {
          resolved: { kind: "status", status: mode.status, retryAfter: undefined },
          name: `status:${mode.status}`,
        };
      }
      return { resolved: { kind: "ok" }, name: "ok" };
    }
    const resolved = mode as ResolvedMode;
    return { resolved, name: resolved.kind === "status" ? `status:${resolved.status}` : resolved.kind };
  };
  return {
    set(next: string) {
      mode = parseMode(next, extraKinds, fn, failStatus);
      failuresLeft = mode.kind === "fail-first" && "n" in mode ? mode.n : 0;
    },
    /** The mode that would answer the next request, without consuming a `fail-first` failure. */
    peek: () => resolve(false),
    /** The mode that answers the next request (consumes one `fail-first` failure). */
    next: () => resolve(true),
  };
}

const SECRET_HEADERS = new Set(["x-api-key", "x-goog-api-key", "authorization", "proxy-authorization", "cookie"]);

/** Lower-cased headers with credential values replaced by "***". @internal */
export function maskedHeaders(req: IncomingMessage): Record<string, string> {
  const headers = plainHeaders(req);
  for (const name of Object.keys(headers)) if (SECRET_HEADERS.has(name)) headers[name] = "***";
  return headers;
}

export function field(body: unknown, name: string): unknown {
  return typeof body === "object" && body !== null && name in body
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

/** A rough token count: 1 token per 4 characters of the JSON. @internal */
export function estimateTokens(value: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(value ?? "").length / 4));
}

/** Splits a text into two streamed pieces (one when short). @internal */
export function halves(text: string): string[] {
  const half = Math.ceil(text.length / 2);
  return [text.slice(0, half), text.slice(half)].filter((piece) => piece !== "");
}

/** Starts a loopback HTTP server whose `close()` also ends hanging requests. @internal */
export async function startLoopback(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  onError: (res: ServerResponse) => void,
  options: { port?: number | undefined; host?: string | undefined },
): Promise<{ origin: string; close(): Promise<void> }> {
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) onError(res);
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : 0);
    });
  });
  let closed = false;
  return {
    origin: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
    },
  };
}
