import type { Dispatcher } from "undici";
import type { TaskTracker } from "../tracker/tracker.js";
import type { Clock, HeartbeatLogger, PlatformTokens } from "../types.js";
import type { RuntimeMetadata } from "./body.js";

export interface HeartbeatOptions {
  /** Platform base URL (`PLATFORM_URL`), http or https. */
  platformUrl: string;
  workspaceId: string;
  /** The platform token store (`@molecule/auth`'s `createTokenStore`). */
  tokens: PlatformTokens;
  /** Period between beats, ms. Default 30 000. */
  intervalMs?: number;
  /**
   * Relative spread of each period, 0 ≤ jitter < 1. Default 0.1. Above 0 the loop is also de-phased:
   * the second beat lands at a random offset within the interval, the every-n-th platform check on
   * a per-loop one of those n beats, and the re-register call (`onOutageRecovered` after an outage
   * longer than the TTL) and the platform check after a recovery at a random offset within one
   * interval. Immediate beats (a wedge, a rotated token, a task change) never wait. `0` is exact
   * timing: no phase, no spread.
   */
  jitter?: number;
  /**
   * Called for every beat; sent as `runtime_metadata`. `start()` rejects when its first result fails
   * the schema; a later bad result (or a throw) sends the last good one and counts in `internalErrors`.
   */
  metadata: () => RuntimeMetadata;
  /** Running tasks and the error window (`createTaskTracker()`). */
  tasks: Pick<TaskTracker, "snapshot" | "onChange">;
  logger?: HeartbeatLogger;
  clock?: Clock;
  /** Uniform [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * undici dispatcher for every request. Default: an own keep-alive Agent, once undici has loaded (it
   * is imported after the first request, which goes on Node's built-in fetch).
   */
  dispatcher?: Dispatcher;
  /** Per-request timeout, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** The platform's liveness TTL, ms: a longer outage fires `onOutageRecovered`. Default 180 000. */
  ttlMs?: number;
  /** Read `GET /workspaces/:id` on every n-th successful beat. Default 5. */
  platformCheckEvery?: number;
  /**
   * While started, the heartbeat holds the process open (a handle of its own, as a server's
   * `listen()` does) until `stop()`. `true` opts out: the process may exit while it runs.
   */
  unref?: boolean;
}

export interface HeartbeatStats {
  running: boolean;
  beatsOk: number;
  beatsFailed: number;
  /** Failed beats since the last success (any kind of failure). */
  consecutiveFailures: number;
  /** 401s since the last success. */
  unauthorizedStreak: number;
  /** 404s ("workspace not found": the platform does not know this workspace) since the last success. */
  notFoundStreak: number;
  /** Clock time (epoch ms) of the first 404 of that streak; undefined when there is none. */
  notFoundSince: number | undefined;
  /**
   * The platform has not known this workspace for longer than `ttlMs` (404s since `notFoundSince`,
   * re-registering has not helped): the workspace is not serving the platform; beats go at the
   * backoff cap. False again after a good beat.
   */
  workspaceLost: boolean;
  /** HTTP status of the last beat's response; undefined after a transport error or before any. */
  lastStatus: number | undefined;
  /** The platform's view of us from the last check: its `status`, or `"not-found"` after a 404. */
  platformStatus: string | undefined;
  /** The last failure, without secrets. */
  lastError: string | undefined;
  /** Clock time (epoch ms) of the last successful beat. */
  lastSuccessAt: number | undefined;
  /** Beats sent because state changed or `beatNow` was called. */
  immediateBeats: number;
  /** Immediate beats skipped because their state and token had already gone out. */
  skippedBeats: number;
  /** Times the HTTP client was rebuilt after repeated transport errors. */
  clientRebuilds: number;
  /** Requests in flight now (beats and platform checks). */
  inFlight: number;
  /**
   * Errors inside the heartbeat itself rather than on the wire: a `metadata()` that throws or returns
   * an invalid result, a `tasks.snapshot()` or listener that throws. Beats go on (with the last good
   * metadata); `lastError` keeps meaning the last failed beat.
   */
  internalErrors: number;
  /** The last internal error, one line. */
  lastInternalError: string | undefined;
}

export interface BeatResult {
  ok: boolean;
  /** HTTP status, when a response came. */
  status?: number;
  /** True when nothing was sent (already up to date, stopped, or in backoff). */
  skipped?: boolean;
  error?: string;
}

export interface OutageRecoveredEvent {
  /** `outage`: beats failed for longer than the TTL. `platform-lost`: the platform no longer lists us. */
  reason: "outage" | "platform-lost";
  /** For `outage`: ms since the last success (or start). */
  downMs?: number;
  /** For `platform-lost`: `"not-found"` or `"offline"`. */
  platformStatus?: string;
}

export interface UnauthorizedStreakEvent {
  workspaceId: string;
  streak: number;
}

/** A beat answered 404 (the platform does not know this workspace): fired on every such beat, at the backoff's pace. */
export interface WorkspaceUnknownEvent {
  workspaceId: string;
  /** 404s in a row, this one included. */
  streak: number;
  /** Clock time (epoch ms) of the first of them. */
  since: number;
  /** Longer than the TTL (`stats().workspaceLost`). */
  lost: boolean;
}

export interface Heartbeat {
  /**
   * Beats at once, then on the schedule. Resolves once the loop is scheduled (it never waits for a
   * beat: a platform outage cannot block a boot); rejects with `E_HEARTBEAT_BAD_OPTION` naming the
   * field when the first `metadata()` result fails the schema (nothing starts then). Idempotent.
   */
  start(): Promise<void>;
  /** Stops the loop, sends one final beat with `active_tasks: 0` (bounded by 2 s), resolves when nothing is in flight. */
  stop(): Promise<void>;
  /** A beat now (coalesced with other immediate beats, at most one per 250 ms). */
  beatNow(reason: string): Promise<BeatResult>;
  stats(): HeartbeatStats;
  /**
   * The daemon re-registers on it. After an outage longer than the TTL the listeners are called at a
   * random offset within one interval (with `jitter > 0`), so a fleet does not re-register at once.
   * Returns an unsubscribe.
   */
  onOutageRecovered(listener: (event: OutageRecoveredEvent) => void): () => void;
  /** Fires with the ERROR log: 3 consecutive 401s, then every 20 more. Returns an unsubscribe. */
  onUnauthorizedStreak(listener: (event: UnauthorizedStreakEvent) => void): () => void;
  /**
   * A beat answered 404 "workspace not found" (deleted and maybe recreated, or lost): the daemon
   * re-registers on it. Fires on every such beat; those back off (from 1 s, capped at the interval,
   * and after the TTL at the backoff cap: a third of the TTL, never below the interval). Returns an
   * unsubscribe.
   */
  onWorkspaceUnknown(listener: (event: WorkspaceUnknownEvent) => void): () => void;
}
