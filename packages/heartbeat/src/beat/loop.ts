import { backoffDelayMs, nextBeatDelayMs } from "../schedule.js";
import { type Clock, errorText, type HeartbeatLogger } from "../types.js";
import type { Beat, Classified } from "./beat.js";
import type { Counters } from "./counters.js";
import type { BeatResult } from "./types.js";

const IMMEDIATE_SPACING_MS = 250;

interface Pending {
  reasons: Set<string>;
  force: boolean;
  waiters: Array<(result: BeatResult) => void>;
}

/** @internal */
export interface BeatLoop {
  /** A tick now: one beat, then the next on the schedule (or after a backoff). */
  tick(): void;
  /** An immediate beat, coalesced with the others, at most one per 250 ms. */
  requestImmediate(reason: string, force: boolean): Promise<BeatResult>;
  /** Clears the timers and answers waiting `beatNow()` calls with "stopped". */
  cancel(): void;
  /** Waits for the beat in flight, if any. */
  settle(): Promise<void>;
  /** Runs the final beat as the one in flight. */
  runFinal(work: () => Promise<void>): Promise<void>;
  /** A beat (or the final beat) is in flight. */
  busy(): boolean;
}

/** What the loop uses. @internal */
export interface BeatLoopInput {
  intervalMs: number;
  jitter: number;
  random: () => number;
  requestTimeoutMs: number;
  clock: Clock;
  logger: HeartbeatLogger;
  counters: Pick<Counters, "internalError" | "immediateBeat" | "skippedBeat">;
  beat: Pick<Beat, "once" | "backoffLevel">;
  /** The longest backoff wait now, ms: the interval, or the slower cap while the workspace is lost. */
  backoffCapMs: () => number;
  /** Aborted by `stop()`. */
  signal: AbortSignal;
  started: () => boolean;
  stopping: () => boolean;
}

/** The loop: periodic ticks with jitter, immediate beats on state change, backoff, one beat at a time. @internal */
export function createBeatLoop(input: BeatLoopInput): BeatLoop {
  const { clock, logger, counters, intervalMs, jitter, random, beat } = input;
  /** The beat or final beat in flight. */
  let inFlight: Promise<void> | undefined;
  let tickTimer: unknown;
  let spacingTimer: unknown;
  let tickNumber = 0;
  let tickStartedAt = 0;
  let periodMs = intervalMs;
  let pendingTick = false;
  let pending: Pending | undefined;
  let lastImmediateAt = Number.NEGATIVE_INFINITY;
  /** The next tick is a backoff retry (not the regular period). */
  let backingOff = false;

  const schedule = (delayMs: number) => {
    if (tickTimer !== undefined) clock.clearTimeout(tickTimer);
    tickTimer = clock.setTimeout(onTick, Math.max(0, delayMs));
  };

  const onTick = () => {
    tickTimer = undefined;
    tickNumber += 1;
    tickStartedAt = clock.now();
    periodMs = nextBeatDelayMs(tickNumber, intervalMs, jitter, random);
    pendingTick = true;
    drain();
  };

  const run = (kind: "tick" | "immediate", force: boolean, waiters: Array<(r: BeatResult) => void>) => {
    const task = (async () => {
      let outcome: { result: BeatResult; classified?: Classified };
      try {
        outcome = await beat.once(kind, force, input.signal, input.requestTimeoutMs);
      } catch (error) {
        counters.internalError("beat", errorText(error));
        logger.error({ event: "heartbeat.bug", err: errorText(error) }, "unexpected error in the heartbeat loop");
        outcome = { result: { ok: false, error: errorText(error) } };
      }
      for (const resolve of waiters) resolve(outcome.result);
      if (input.stopping() || !input.started()) return; // a beatNow() without start() never starts the loop
      const c = outcome.classified;
      if (c?.kind === "backoff" || c?.kind === "unknown") {
        const retryAfterMs = c.kind === "backoff" ? c.retryAfterMs : undefined;
        backingOff = true;
        schedule(backoffDelayMs(beat.backoffLevel(), input.backoffCapMs(), jitter, random, retryAfterMs));
      } else if (kind === "tick") {
        backingOff = false;
        schedule(tickStartedAt + periodMs - clock.now());
      } else if (c?.kind === "ok" && backingOff) {
        // An immediate beat (a re-register's, say) got through while a slow retry was pending: back to the period.
        backingOff = false;
        schedule(periodMs);
      }
    })();
    inFlight = task;
    void task.finally(() => {
      if (inFlight === task) inFlight = undefined;
      drain();
    });
  };

  function drain() {
    if (inFlight || input.stopping()) return;
    if (pendingTick) {
      pendingTick = false;
      // The tick carries the latest state: it answers a pending immediate request too.
      const waiters = pending?.waiters ?? [];
      pending = undefined;
      run("tick", true, waiters);
      return;
    }
    if (!pending) return;
    const now = clock.now();
    if (now - lastImmediateAt < IMMEDIATE_SPACING_MS) {
      if (spacingTimer === undefined) {
        spacingTimer = clock.setTimeout(
          () => {
            spacingTimer = undefined;
            drain();
          },
          lastImmediateAt + IMMEDIATE_SPACING_MS - now,
        );
      }
      return;
    }
    const { force, waiters, reasons } = pending;
    pending = undefined;
    lastImmediateAt = now;
    counters.immediateBeat();
    logger.debug?.({ event: "heartbeat.immediate", reasons: [...reasons] }, "immediate heartbeat");
    run("immediate", force, waiters);
  }

  const requestImmediate = (reason: string, force: boolean): Promise<BeatResult> => {
    if (input.stopping()) return Promise.resolve({ ok: false, skipped: true, error: "stopped" });
    if (!force && beat.backoffLevel() > 0) {
      // The platform is failing: the next backoff attempt carries the latest state anyway.
      counters.skippedBeat();
      return Promise.resolve({ ok: false, skipped: true, error: "in backoff; the next attempt carries this state" });
    }
    return new Promise((resolve) => {
      pending ??= { reasons: new Set(), force: false, waiters: [] };
      pending.reasons.add(reason);
      pending.force ||= force;
      pending.waiters.push(resolve);
      drain();
    });
  };

  return {
    tick: onTick,
    requestImmediate,
    cancel() {
      if (tickTimer !== undefined) clock.clearTimeout(tickTimer);
      if (spacingTimer !== undefined) clock.clearTimeout(spacingTimer);
      tickTimer = spacingTimer = undefined;
      if (pending) for (const resolve of pending.waiters) resolve({ ok: false, skipped: true, error: "stopped" });
      pending = undefined;
      pendingTick = false;
    },
    async settle() {
      if (inFlight) await inFlight;
    },
    async runFinal(work) {
      const task = work();
      inFlight = task;
      await task;
      inFlight = undefined;
    },
    busy: () => inFlight !== undefined,
  };
}
