import type { HttpClient, HttpRequest, HttpResult } from "../http.js";
import { authorizationOf, tokenOf } from "../options.js";
import { oneLine, type PlatformTokens } from "../types.js";

/** How many delivered (and refused) delegation ids are remembered. @internal */
export const SEEN_LIMIT = 1_000;
const SUMMARY_CHARS = 200;

/** Operator-safe one-line text of untrusted platform text. @internal */
export function clean(text: string, max = SUMMARY_CHARS): string {
  return oneLine(text, max);
}

/** A request with the poller's timeout and stop signal. Never throws. @internal */
export type Send = (req: Omit<HttpRequest, "timeoutMs" | "signal">) => Promise<HttpResult>;

/** An authenticated request with the one 401 retry of docs/CONTRACT.md. @internal */
export type Authed = (
  req: Omit<HttpRequest, "timeoutMs" | "signal" | "headers">,
  extra?: Record<string, string>,
) => Promise<HttpResult>;

/** Keeps a side task (wake-up, notify) for `stop()` to wait on. @internal */
export type Track = (work: Promise<void>) => void;

/** What the poller's requests use. @internal */
export interface RequestsInput {
  http: HttpClient;
  tokens: PlatformTokens;
  requestTimeoutMs: number;
  /** Aborted by `stop()`. */
  signal: AbortSignal;
}

/** The poller's two ways to ask the platform. @internal */
export function createRequests(input: RequestsInput): { send: Send; authed: Authed } {
  const { http, tokens, requestTimeoutMs, signal } = input;
  const send: Send = (req) => http.send({ ...req, timeoutMs: requestTimeoutMs, signal });
  const authed: Authed = async (req, extra = {}) => {
    const headers = { ...(await tokens.headers()), ...extra };
    const auth = authorizationOf(headers);
    const res = await send({ ...req, headers });
    if (res.kind !== "response" || res.status !== 401) return res;
    const { changed } = await tokens.refreshFromDisk(tokenOf(auth)).catch(() => ({ changed: false }));
    if (!changed) return res;
    const fresh = { ...(await tokens.headers()), ...extra };
    if (authorizationOf(fresh) === auth) return res;
    return send({ ...req, headers: fresh });
  };
  return { send, authed };
}
