import { SHUTDOWN } from "./executor.js";

/**
 * Up to `maxConcurrent` turns at a time, further ones wait in a bounded FIFO; beyond it the caller
 * is told "busy". Jobs with the same `key` (one conversation) never run at the same time: they
 * start one after another in arrival order, while jobs of other keys may pass them. Jobs can be
 * cancelled while queued or running.
 * @internal
 */
export interface Job<T> {
  id: string;
  /** Jobs of one key run one after another (the A2A context: one agent session). */
  key?: string;
  run(signal: AbortSignal): Promise<T>;
}

export class BusyError extends Error {
  readonly code = "E_BUSY";
  /** The refusal is because the daemon is shutting down (SIGTERM), not because its queue is full. */
  readonly shuttingDown: boolean;
  constructor(options: { shuttingDown?: boolean } = {}) {
    super(
      options.shuttingDown
        ? "the workspace is shutting down; send the message again in a moment (or to another workspace)"
        : "the workspace is busy and its queue is full; try again later",
    );
    this.name = "BusyError";
    this.shuttingDown = options.shuttingDown === true;
  }
}

export class CancelledError extends Error {
  readonly code = "E_CANCELLED";
  constructor() {
    super("the turn was cancelled before it started");
    this.name = "CancelledError";
  }
}

interface Entry {
  id: string;
  key: string | undefined;
  controller: AbortController;
  start(): void;
  reject(error: Error): void;
}

export interface Scheduler {
  submit<T>(job: Job<T>): Promise<T>;
  /** Whether a `submit` now would be accepted (not refused as busy). */
  accepts(key?: string): boolean;
  /** Cancels a queued or running job by id; without an id, the oldest running one. */
  cancel(id?: string): boolean;
  /** Refuse new jobs from now on (they get a BusyError that says the daemon is shutting down). */
  close(): void;
  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void>;
  /** Abort every running job (shutdown after the grace). */
  abortRunning(): void;
  stats(): { running: number; queued: number };
}

export function createScheduler(options: { maxConcurrent: number; queueSize: number }): Scheduler {
  const running = new Map<string, Entry>();
  const queue: Entry[] = [];
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const checkIdle = () => {
    if (running.size === 0 && queue.length === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const keyBusy = (key: string | undefined) =>
    key !== undefined && [...running.values()].some((entry) => entry.key === key);
  const canStart = (key: string | undefined) =>
    running.size < options.maxConcurrent &&
    !keyBusy(key) &&
    !queue.some((entry) => key !== undefined && entry.key === key);

  const pump = () => {
    // The oldest waiting job whose key is free starts first; a key's own jobs keep their order.
    for (let i = 0; i < queue.length && running.size < options.maxConcurrent; ) {
      const entry = queue[i];
      if (entry && !keyBusy(entry.key)) {
        queue.splice(i, 1);
        entry.start();
      } else {
        i += 1;
      }
    }
    checkIdle();
  };

  return {
    submit<T>(job: Job<T>): Promise<T> {
      if (closed) return Promise.reject(new BusyError({ shuttingDown: true }));
      const waits = !canStart(job.key);
      if (waits && queue.length >= options.queueSize) return Promise.reject(new BusyError());
      return new Promise<T>((resolve, reject) => {
        const controller = new AbortController();
        const entry: Entry = {
          id: job.id,
          key: job.key,
          controller,
          reject,
          start() {
            running.set(entry.id, entry);
            job
              .run(controller.signal)
              .then(resolve, reject)
              .finally(() => {
                running.delete(entry.id);
                pump();
              });
          },
        };
        if (waits) queue.push(entry);
        else entry.start();
      });
    },
    accepts: (key) => !closed && (canStart(key) || queue.length < options.queueSize),
    cancel(id) {
      if (id !== undefined) {
        const index = queue.findIndex((e) => e.id === id);
        if (index >= 0) {
          const [entry] = queue.splice(index, 1);
          entry?.reject(new CancelledError());
          checkIdle();
          return true;
        }
        const entry = running.get(id);
        if (!entry) return false;
        entry.controller.abort();
        return true;
      }
      const first = running.values().next().value;
      if (!first) return false;
      first.controller.abort();
      return true;
    },
    close() {
      closed = true;
      for (const entry of queue.splice(0)) entry.reject(new BusyError({ shuttingDown: true }));
      checkIdle();
    },
    idle() {
      if (running.size === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    abortRunning() {
      for (const entry of running.values()) entry.controller.abort(SHUTDOWN);
    },
    stats: () => ({ running: running.size, queued: queue.length }),
  };
}
