import type { HttpClient } from "../http.js";
import { type Clock, errorText, type HeartbeatLogger, type PlatformTokens } from "../types.js";
import type { RuntimeMetadata } from "./body.js";
import type {
  BeatResult,
  HeartbeatOptions,
  HeartbeatStats,
  OutageRecoveredEvent,
  UnauthorizedStreakEvent,
} from "./types.js";

/** How a beat's answer is handled. @internal */
export type Classified =
  | { kind: "ok" }
  | { kind: "unauthorized" }
  | { kind: "backoff"; transport: boolean; retryAfterMs?: number }
  | { kind: "rejected" }
  | { kind: "aborted" };

/** One beat (its one 401 retry included). @internal */
export type BeatOnce = (
  kind: "tick" | "immediate" | "final",
  force: boolean,
  signal: AbortSignal,
  timeoutMs: number,
) => Promise<{ result: BeatResult; classified?: Classified }>;

/**
 * Everything one `createHeartbeat` shares between its parts (the beat, the platform check, the
 * loop): the validated options, and the mutable state they read and write. @internal
 */
export interface HeartbeatState {
  readonly workspaceId: string;
  readonly beatUrl: string;
  readonly workspaceUrl: string;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  readonly ttlMs: number;
  readonly jitter: number;
  readonly checkEvery: number;
  readonly tokens: PlatformTokens;
  readonly tasks: HeartbeatOptions["tasks"];
  readonly metadata: () => RuntimeMetadata;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: HeartbeatLogger;
  readonly http: HttpClient;
  readonly aborter: AbortController;
  readonly counters: Omit<HeartbeatStats, "running" | "inFlight">;
  readonly outageListeners: Set<(event: OutageRecoveredEvent) => void>;
  readonly streakListeners: Set<(event: UnauthorizedStreakEvent) => void>;

  started: boolean;
  stopping: Promise<void> | undefined;
  startedAt: number;
  /** Beats posted since start (the first may report uptime 0). */
  pushes: number;
  lastMetadata: RuntimeMetadata | undefined;
  metadataWarned: boolean;
  /** The beat or final beat in flight. */
  inFlight: Promise<void> | undefined;
  checksInFlight: number;
  /** State (body without uptime) and Authorization of the last beat sent. */
  lastSentKey: string | undefined;
  lastSentAuth: string | undefined;
  /** The Authorization that just got a 401. */
  deadAuth: string | undefined;
  backoffN: number;
  transportStreak: number;
  successes: number;
}

/** Counts an error inside the heartbeat itself (`stats().internalErrors`). @internal */
export function noteInternalError(state: HeartbeatState, where: string, message: string): void {
  state.counters.internalErrors += 1;
  state.counters.lastInternalError = `${where}: ${message}`;
}

/** Calls every listener; one that throws is logged, counted, and does not stop the others. @internal */
export function emit<T>(state: HeartbeatState, set: Set<(event: T) => void>, event: T, name: string): void {
  for (const listener of [...set]) {
    try {
      listener(event);
    } catch (error) {
      noteInternalError(state, `${name} listener`, errorText(error));
      state.logger.warn(
        { event: "heartbeat.listener_failed", listener: name, err: errorText(error) },
        `an ${name} listener threw`,
      );
    }
  }
}

/** The token store's headers; a failing read is logged and the request goes without them. @internal */
export async function safeHeaders(state: HeartbeatState): Promise<Record<string, string>> {
  try {
    return await state.tokens.headers();
  } catch (error) {
    state.logger.warn(
      { event: "heartbeat.token_read_failed", err: errorText(error) },
      "reading the platform token failed; sending without it",
    );
    return {};
  }
}
