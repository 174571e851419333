import { errorText, type HeartbeatLogger, type PlatformTokens } from "../types.js";
import type { HeartbeatStats, OutageRecoveredEvent, UnauthorizedStreakEvent, WorkspaceUnknownEvent } from "./types.js";

/** `stats()` without the two live figures the handle adds. @internal */
export type Counts = Omit<HeartbeatStats, "running" | "inFlight">;

/**
 * The heartbeat's counters. This module is their one writer: every other part reads them through
 * `read` and changes them through a named method. @internal
 */
export interface Counters {
  readonly read: Readonly<Counts>;
  /** An error inside the heartbeat itself (`stats().internalErrors`). */
  internalError(where: string, message: string): void;
  immediateBeat(): void;
  skippedBeat(): void;
  platformStatus(status: string): void;
  /** A beat's answer came (or a transport error: `status` undefined). */
  answered(status: number | undefined): void;
  delivered(now: number): void;
  failed(error: string | undefined): void;
  /** A 401; returns the streak. */
  unauthorized(): number;
  /**
   * A 404 "workspace not found" at `now`: the streak, its start, and whether this one made it longer
   * than `ttlMs` (`workspaceLost` turns true).
   */
  notFound(now: number, ttlMs: number): { streak: number; since: number; crossed: boolean };
  clientRebuilt(): void;
}

/** @internal */
export function createCounters(): Counters {
  const counts: Counts = {
    beatsOk: 0,
    beatsFailed: 0,
    consecutiveFailures: 0,
    unauthorizedStreak: 0,
    notFoundStreak: 0,
    notFoundSince: undefined,
    workspaceLost: false,
    lastStatus: undefined,
    platformStatus: undefined,
    lastError: undefined,
    lastSuccessAt: undefined,
    immediateBeats: 0,
    skippedBeats: 0,
    clientRebuilds: 0,
    internalErrors: 0,
    lastInternalError: undefined,
  };
  return {
    read: counts,
    internalError(where, message) {
      counts.internalErrors += 1;
      counts.lastInternalError = `${where}: ${message}`;
    },
    immediateBeat() {
      counts.immediateBeats += 1;
    },
    skippedBeat() {
      counts.skippedBeats += 1;
    },
    platformStatus(status) {
      counts.platformStatus = status;
    },
    answered(status) {
      counts.lastStatus = status;
    },
    delivered(now) {
      counts.beatsOk += 1;
      counts.consecutiveFailures = 0;
      counts.unauthorizedStreak = 0;
      counts.notFoundStreak = 0;
      counts.notFoundSince = undefined;
      counts.workspaceLost = false;
      counts.lastSuccessAt = now;
    },
    failed(error) {
      counts.beatsFailed += 1;
      counts.consecutiveFailures += 1;
      counts.lastError = error;
    },
    unauthorized() {
      counts.unauthorizedStreak += 1;
      return counts.unauthorizedStreak;
    },
    notFound(now, ttlMs) {
      counts.notFoundStreak += 1;
      const since = counts.notFoundSince ?? now;
      counts.notFoundSince = since;
      const crossed = !counts.workspaceLost && now - since >= ttlMs;
      if (crossed) counts.workspaceLost = true;
      return { streak: counts.notFoundStreak, since, crossed };
    },
    clientRebuilt() {
      counts.clientRebuilds += 1;
    },
  };
}

/** The handle's event kinds: `on*` subscribe (returning an unsubscribe), `emit*` call every listener. @internal */
export interface HeartbeatEvents {
  onOutageRecovered(listener: (event: OutageRecoveredEvent) => void): () => void;
  onUnauthorizedStreak(listener: (event: UnauthorizedStreakEvent) => void): () => void;
  onWorkspaceUnknown(listener: (event: WorkspaceUnknownEvent) => void): () => void;
  emitOutageRecovered(event: OutageRecoveredEvent): void;
  emitUnauthorizedStreak(event: UnauthorizedStreakEvent): void;
  emitWorkspaceUnknown(event: WorkspaceUnknownEvent): void;
}

/** The listener sets, owned here; a listener that throws is logged, counted, and does not stop the others. @internal */
export function createEvents(counters: Pick<Counters, "internalError">, logger: HeartbeatLogger): HeartbeatEvents {
  const outage = new Set<(event: OutageRecoveredEvent) => void>();
  const streak = new Set<(event: UnauthorizedStreakEvent) => void>();
  const unknown = new Set<(event: WorkspaceUnknownEvent) => void>();
  const subscribe = <T>(set: Set<(event: T) => void>, listener: (event: T) => void) => {
    const wrapped = (event: T) => listener(event);
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  };
  const emit = <T>(set: Set<(event: T) => void>, event: T, name: string) => {
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        counters.internalError(`${name} listener`, errorText(error));
        logger.warn(
          { event: "heartbeat.listener_failed", listener: name, err: errorText(error) },
          `an ${name} listener threw`,
        );
      }
    }
  };
  return {
    onOutageRecovered: (listener) => subscribe(outage, listener),
    onUnauthorizedStreak: (listener) => subscribe(streak, listener),
    onWorkspaceUnknown: (listener) => subscribe(unknown, listener),
    emitOutageRecovered: (event) => emit(outage, event, "onOutageRecovered"),
    emitUnauthorizedStreak: (event) => emit(streak, event, "onUnauthorizedStreak"),
    emitWorkspaceUnknown: (event) => emit(unknown, event, "onWorkspaceUnknown"),
  };
}

/** The token store's headers; a failing read is logged and the request goes without them. @internal */
export async function safeHeaders(tokens: PlatformTokens, logger: HeartbeatLogger): Promise<Record<string, string>> {
  try {
    return await tokens.headers();
  } catch (error) {
    logger.warn(
      { event: "heartbeat.token_read_failed", err: errorText(error) },
      "reading the platform token failed; sending without it",
    );
    return {};
  }
}
