import { realClock as sharedRealClock } from "@molecule/internal";

/** The injected clock of docs/ARCHITECTURE.md: every time-dependent factory takes one, defaulting to the real clock. */
export interface Clock {
  /** epoch ms */
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FakeClock extends Clock {
  /**
   * Moves time forward by `ms`, running every timer that falls due, in due order (ties in the order
   * they were set), each at its own due time, and letting promises settle after each one.
   */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks and immediate I/O callbacks run, without moving time. */
  settle(): Promise<void>;
  /** How many timers are waiting. */
  pending(): number;
  /** When the next timer falls due (epoch ms), or undefined. */
  nextDueAt(): number | undefined;
}

interface FakeTimer {
  id: number;
  due: number;
  cb: () => void;
}

/** A fake `Clock` for tests: nothing happens until `advance(ms)` is awaited. */
export function createFakeClock(startMs = 0): FakeClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, FakeTimer>();

  const settle = async () => {
    for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  const nextDue = (limit: number): FakeTimer | undefined => {
    let best: FakeTimer | undefined;
    for (const timer of timers.values()) {
      if (timer.due > limit) continue;
      if (!best || timer.due < best.due || (timer.due === best.due && timer.id < best.id)) best = timer;
    }
    return best;
  };

  return {
    now: () => now,
    setTimeout(cb, ms) {
      seq += 1;
      const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
      const timer: FakeTimer = { id: seq, due: now + delay, cb };
      timers.set(timer.id, timer);
      return { id: timer.id, unref() {}, ref() {} };
    },
    clearTimeout(handle) {
      if (typeof handle === "object" && handle !== null && "id" in handle) {
        timers.delete((handle as { id: number }).id);
      }
    },
    async advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite ms >= 0, got ${ms}`);
      const target = now + ms;
      await settle();
      for (let timer = nextDue(target); timer; timer = nextDue(target)) {
        timers.delete(timer.id);
        now = Math.max(now, timer.due);
        timer.cb();
        await settle();
      }
      now = target;
      await settle();
    },
    settle,
    pending: () => timers.size,
    nextDueAt() {
      let due: number | undefined;
      for (const timer of timers.values()) if (due === undefined || timer.due < due) due = timer.due;
      return due;
    },
  };
}

/** The real clock (`@molecule/internal`, inlined at build); unref'd timers. @internal */
export const realClock: Clock = sharedRealClock;
