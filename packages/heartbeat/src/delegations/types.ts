import type { Dispatcher } from "undici";
import type { Clock, HeartbeatLogger, PlatformTokens } from "../types.js";

export interface DelegationPollerOptions {
  platformUrl: string;
  workspaceId: string;
  /** The platform token store (`@molecule/auth`'s `createTokenStore`). */
  tokens: PlatformTokens;
  /** Poll period, ms. Default 30 000. */
  intervalMs?: number;
  /** JSON-lines file results are appended to. Default `<stateDir>/delegation_results.jsonl`. */
  resultsFile?: string;
  /** Directory (created 0700) for the delivered-ids file. */
  stateDir: string;
  /** At most one wake-up self-message per cooldown, ms. Default 60 000. */
  cooldownMs?: number;
  logger?: HeartbeatLogger;
  clock?: Clock;
  dispatcher?: Dispatcher;
  /** Per-request timeout, ms (the wake-up is abandoned, not retried, after it). Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a definitive parent lookup is cached, ms. Default 600 000. */
  parentCacheTtlMs?: number;
  /**
   * While started, the poller holds the process open (a handle of its own, as a server's `listen()`
   * does) until `stop()`. `true` opts out: the process may exit while it runs.
   */
  unref?: boolean;
}

/** One delivered result, as a line of the results file. */
export interface DelegationResult {
  delegation_id: string;
  status: "completed" | "failed";
  summary: string;
  source_id: string;
  target_id?: string;
  row_id?: string;
  created_at?: string;
  error?: string;
  /** The platform's preview of the answer (≤ 300 chars). Untrusted text: never put it in a user-role message. */
  response_preview?: string;
  /** When this workspace received it (ISO 8601). */
  received_at: string;
}

export interface DelegationPollerStats {
  running: boolean;
  polls: number;
  pollFailures: number;
  /** Results appended to the results file. */
  delivered: number;
  /** Delegation ids refused because their `source_id` is another workspace (counted once per id). */
  rejected: number;
  wakeUpsSent: number;
  /** Wake-ups held back by the cooldown (sent when it ends). */
  wakeUpsDeferred: number;
  wakeUpsFailed: number;
  notifyFailures: number;
  /** Parent lookups that went to the platform (cache misses). */
  parentLookups: number;
  lastError: string | undefined;
  inFlight: number;
}

export interface PollResult {
  ok: boolean;
  /** New results appended by this poll. */
  delivered: number;
  error?: string;
}

export interface DelegationPoller {
  /** Polls at once, then every `intervalMs`. Idempotent. */
  start(): void;
  /** Stops the timers and resolves when nothing is in flight. */
  stop(): Promise<void>;
  /** A poll now (joins one already running). */
  pollNow(): Promise<PollResult>;
  stats(): DelegationPollerStats;
}

/** The optional fields of a `DelegationResult`. @internal */
const OPTIONAL = ["target_id", "row_id", "created_at", "error", "response_preview"] as const;

/**
 * The one builder of a `DelegationResult` (from a platform row or a results-file line): the required
 * fields, then each optional one that is a non-empty string. @internal
 */
export function delegationResult(
  required: Pick<DelegationResult, "delegation_id" | "status" | "summary" | "source_id" | "received_at">,
  optional: { [K in (typeof OPTIONAL)[number]]?: string | null | undefined },
): DelegationResult {
  const result: DelegationResult = { ...required };
  for (const key of OPTIONAL) {
    const value = optional[key];
    if (typeof value === "string" && value !== "") result[key] = value;
  }
  return result;
}
