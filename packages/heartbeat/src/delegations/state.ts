import type { HttpRequest, HttpResult } from "../http.js";
import { type Clock, type HeartbeatLogger, oneLine, type PlatformTokens } from "../types.js";
import type { DelegationPollerStats } from "./types.js";

/** How many delivered (and refused) delegation ids are remembered. @internal */
export const SEEN_LIMIT = 1_000;
const SUMMARY_CHARS = 200;

/**
 * What one `createDelegationPoller` shares between its parts (the poll, the ledger, the wake-up,
 * the notifier): the validated options, the counters, and the requests it makes. @internal
 */
export interface PollerState {
  readonly base: string;
  readonly workspaceId: string;
  /** `<base>/workspaces/<id>` */
  readonly wsPath: string;
  readonly resultsFile: string;
  readonly cooldownMs: number;
  readonly parentTtlMs: number;
  readonly clock: Clock;
  readonly logger: HeartbeatLogger;
  readonly tokens: PlatformTokens;
  readonly counters: Omit<DelegationPollerStats, "running" | "inFlight">;
  stopping: Promise<void> | undefined;
  /** Keeps a side task (wake-up, notify) for `stop()` to wait on. */
  track(work: Promise<void>): void;
  /** A request with the poller's timeout and stop signal. Never throws. */
  send(req: Omit<HttpRequest, "timeoutMs" | "signal">): Promise<HttpResult>;
  /** An authenticated request with the one 401 retry of docs/CONTRACT.md. */
  authed(
    req: Omit<HttpRequest, "timeoutMs" | "signal" | "headers">,
    extra?: Record<string, string>,
  ): Promise<HttpResult>;
}

/** Operator-safe one-line text of untrusted platform text. @internal */
export function clean(text: string, max = SUMMARY_CHARS): string {
  return oneLine(text, max);
}
