import { type Clock, oneLine, realClock, type TurnOutcome } from "../types.js";

/** Outcomes that mean "the workspace cannot serve" and so count toward `error_rate`. */
const COUNTED: ReadonlySet<TurnOutcome> = new Set<TurnOutcome>([
  "auth",
  "wedged",
  "agent-error",
  "timeout",
  "crash",
  "rate-limited",
]);
const OUTCOMES: ReadonlySet<string> = new Set<TurnOutcome>([...COUNTED, "ok", "bad-request", "cancelled", "busy"]);

/** The rolling error window's length. */
export const ERROR_WINDOW_MS = 60_000;
// Memory bound for a very busy worker: the oldest entries go first.
const MAX_WINDOW_ENTRIES = 10_000;
const MAX_TEXT = 200;

/** True for the outcomes that count toward `error_rate`. */
export function isCountedOutcome(outcome: TurnOutcome): boolean {
  return COUNTED.has(outcome);
}

export interface TaskSnapshot {
  /** Turns running now. */
  active: number;
  /** The operator label if set, else the most recently started still-running task's label, else "". */
  currentLabel: string;
  /** Counted failures / finished turns in the last 60 s (0 when none finished). */
  errorRate: number;
  /** The most recent counted failure in the window ("" when none). */
  sampleError: string;
}

/** Ends a task. Only the first call counts. `error` is a short operator-safe description. */
export type TaskDone = (outcome: TurnOutcome, error?: string) => void;

export interface TaskTracker {
  /** Records a running task; call the returned `done(outcome)` exactly once when it ends. */
  start(label: string): TaskDone;
  /** An operator label that wins over the tasks' labels; `undefined` or "" clears it. */
  setLabel(label?: string): void;
  /** Called after every start, end or label change. Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  snapshot(): TaskSnapshot;
}

export interface TaskTrackerOptions {
  clock?: Clock;
}

interface Finished {
  at: number;
  counted: boolean;
  error: string;
}

function clip(text: string): string {
  return oneLine(text, MAX_TEXT);
}

/** Running tasks (id → label) and a rolling 60 s window of finished turns. */
export function createTaskTracker(options: TaskTrackerOptions = {}): TaskTracker {
  const clock = options.clock ?? realClock;
  const running = new Map<number, string>();
  const listeners = new Set<() => void>();
  let window: Finished[] = [];
  let operatorLabel = "";
  let seq = 0;

  const emit = () => {
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // A listener's bug must never break the turn that reported its state.
      }
    }
  };

  const prune = () => {
    const cutoff = clock.now() - ERROR_WINDOW_MS;
    let drop = 0;
    while (drop < window.length && (window[drop]?.at ?? 0) <= cutoff) drop += 1;
    if (window.length - drop > MAX_WINDOW_ENTRIES) drop = window.length - MAX_WINDOW_ENTRIES;
    if (drop > 0) window = window.slice(drop);
  };

  return {
    start(label) {
      seq += 1;
      const id = seq;
      running.set(id, clip(typeof label === "string" ? label : ""));
      emit();
      let finished = false;
      return (outcome, error) => {
        if (finished) return;
        finished = true;
        running.delete(id);
        const known = typeof outcome === "string" && OUTCOMES.has(outcome);
        // An unknown outcome from an untyped caller is treated as a failure, not silently as success.
        const counted = known ? COUNTED.has(outcome) : true;
        const text = typeof error === "string" && error.trim() !== "" ? error : String(outcome);
        window.push({ at: clock.now(), counted, error: counted ? clip(text) : "" });
        prune();
        emit();
      };
    },
    setLabel(label) {
      const next = typeof label === "string" ? clip(label) : "";
      if (next === operatorLabel) return;
      operatorLabel = next;
      emit();
    },
    onChange(listener) {
      const wrapped = () => listener();
      listeners.add(wrapped);
      return () => {
        listeners.delete(wrapped);
      };
    },
    snapshot() {
      prune();
      let failures = 0;
      let sampleError = "";
      for (const entry of window) {
        if (entry.counted) {
          failures += 1;
          sampleError = entry.error;
        }
      }
      let latest = "";
      for (const label of running.values()) latest = label;
      return {
        active: running.size,
        currentLabel: operatorLabel || latest,
        errorRate: window.length === 0 ? 0 : failures / window.length,
        sampleError,
      };
    },
  };
}
