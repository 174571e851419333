import { TestkitError } from "./errors.js";
import type { ModelApiRequest } from "./fake-model-api.js";

export interface ModelApiBarrierOptions {
  /** how many matching `POST /v1/messages` requests to hold until all of them have arrived (≥ 1) */
  count: number;
  /** which requests count (default: every `POST /v1/messages`); the others pass untouched */
  match?: (request: ModelApiRequest) => boolean;
  /** answer the held requests anyway after this long, and resolve `met` with false (default 60 000 ms) */
  timeoutMs?: number;
}

/**
 * Holds model requests until `count` of them are held at the same moment, then answers them all —
 * proof that that many turns were in flight at once, with no timing assertion.
 */
export interface ModelApiBarrier {
  /** requests held so far */
  readonly arrived: number;
  /** true once `count` requests were held at once (they are then answered); false after `timeoutMs` */
  readonly met: Promise<boolean>;
  /** answers the held requests now (`met` resolves false if the count was not reached) */
  release(): void;
}

interface Active {
  options: ModelApiBarrierOptions;
  held: Array<() => void>;
  arrived: number;
  done: boolean;
  finish(met: boolean): void;
}

/** The fake model API's barriers. @internal */
export function createBarriers() {
  const active: Active[] = [];
  return {
    add(options: ModelApiBarrierOptions): ModelApiBarrier {
      if (!Number.isInteger(options?.count) || options.count < 1) {
        throw new TestkitError({
          code: "E_TESTKIT_BAD_OPTION",
          message: `barrier: count must be a whole number ≥ 1 (got ${String(options?.count)})`,
        });
      }
      let resolveMet: (met: boolean) => void = () => {};
      const met = new Promise<boolean>((resolve) => {
        resolveMet = resolve;
      });
      const entry: Active = {
        options,
        held: [],
        arrived: 0,
        done: false,
        finish(ok) {
          if (entry.done) return;
          entry.done = true;
          clearTimeout(timer);
          active.splice(active.indexOf(entry), 1);
          for (const release of entry.held.splice(0)) release();
          resolveMet(ok);
        },
      };
      const timer = setTimeout(() => entry.finish(false), options.timeoutMs ?? 60_000);
      timer.unref();
      active.push(entry);
      return {
        get arrived() {
          return entry.arrived;
        },
        met,
        release: () => entry.finish(false),
      };
    },

    /** Resolves when the request may be answered (at once when no barrier takes it). */
    hold(request: ModelApiRequest): Promise<void> {
      const entry = active.find((a) => !a.done && (a.options.match?.(request) ?? true));
      if (!entry) return Promise.resolve();
      return new Promise<void>((resolve) => {
        entry.held.push(resolve);
        entry.arrived += 1;
        if (entry.held.length >= entry.options.count) entry.finish(true);
      });
    },

    /** Answers everything held (the server is closing). */
    releaseAll() {
      for (const entry of [...active]) entry.finish(false);
    },
  };
}
