import { SHUTDOWN } from "./executors/process.js";

/**
 * One turn at a time (or `maxConcurrent`), further ones wait in a bounded FIFO; beyond it the
 * caller is told "busy". Jobs can be cancelled while queued or running.
 * @internal
 */
export interface Job<T> {
  id: string;
  run(signal: AbortSignal): Promise<T>;
}

export class BusyError extends Error {
  readonly code = "E_BUSY";
  constructor() {
    super("the workspace is busy and its queue is full; try again later");
    this.name = "BusyError";
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
  controller: AbortController;
  start(): void;
  reject(error: Error): void;
}

export interface Scheduler {
  submit<T>(job: Job<T>): Promise<T>;
  /** Cancels a queued or running job by id; without an id, the oldest running one. */
  cancel(id?: string): boolean;
  /** Refuse new jobs from now on (they get BusyError). */
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

  const pump = () => {
    while (running.size < options.maxConcurrent && queue.length > 0) {
      const next = queue.shift();
      next?.start();
    }
    checkIdle();
  };

  return {
    submit<T>(job: Job<T>): Promise<T> {
      if (closed) return Promise.reject(new BusyError());
      const atCapacity = running.size >= options.maxConcurrent;
      if (atCapacity && queue.length >= options.queueSize) return Promise.reject(new BusyError());
      return new Promise<T>((resolve, reject) => {
        const controller = new AbortController();
        const entry: Entry = {
          id: job.id,
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
        if (atCapacity) queue.push(entry);
        else entry.start();
      });
    },
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
      for (const entry of queue.splice(0)) entry.reject(new BusyError());
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
