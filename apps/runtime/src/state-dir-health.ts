import { join } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import type { SessionStore } from "@molecule/session";
import { errorText } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * The state volume's health: writers of `<state dir>` (the session stores, the agent-group record)
 * report a failed write here instead of failing the turn. While any write is failing the daemon
 * logs it at ERROR (once per failing spell), counts it (`molecule_state_write_failures_total`), tells
 * the platform (`sample_error`) and lists `state volume failing` among `/readyz` warnings — readiness
 * stays 200: a pod that still answers must not drop out of its Service. Every `retryMs` a probe
 * write checks the volume; when it succeeds, the failed writes are retried and the warning clears.
 * @internal
 */
export interface StateDirHealth {
  /** A write to `<state dir>` failed. `retry` redoes it (the newest retry per `what` is kept). */
  failed(what: string, error: unknown, retry?: () => Promise<void>): void;
  /** A write of `what` succeeded (clears its failure). */
  succeeded(what: string): void;
  /** One line per failing write, e.g. `state volume failing: session (ENOSPC)`; empty when healthy. */
  warnings(): string[];
  /** Called whenever the set of failing writes changes. Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Retries now (what the timer does). Resolves true when nothing is failing any more. */
  recheck(): Promise<boolean>;
  stop(): void;
}

export interface StateDirHealthOptions {
  stateDir: string;
  log: Logger;
  metrics?: Pick<Metrics, "stateWriteFailures" | "stateVolumeFailing">;
  /** How often a failing volume is probed and failed writes retried (default 30 000 ms). */
  retryMs?: number;
  /** The probe write (default: an atomic write of `<state dir>/.write-probe`); tests fail it without a full disk. */
  probe?: () => Promise<void>;
}

interface Failure {
  code: string;
  retry: (() => Promise<void>) | undefined;
}

const PROBE = ".write-probe";

/** The errno code under an error's causes (`ENOSPC` under `E_SESSION_STORE_WRITE`), else its own code. */
function rootCode(error: unknown): string {
  let first: string | undefined;
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    const code = errnoCode(e);
    if (code && /^E[A-Z]+$/.test(code)) return code;
    first ??= code;
    e = (e as { cause?: unknown }).cause;
  }
  return first ?? "error";
}

export function createStateDirHealth(options: StateDirHealthOptions): StateDirHealth {
  const { log, metrics } = options;
  const retryMs = options.retryMs ?? 30_000;
  const probe =
    options.probe ?? (() => writeFileAtomic(join(options.stateDir, PROBE), `${Date.now()}\n`, { dirMode: 0o700 }));
  const failing = new Map<string, Failure>();
  const listeners = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<boolean> | undefined;

  const changed = () => {
    metrics?.stateVolumeFailing.set(failing.size > 0 ? 1 : 0);
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // a listener's bug must not break the writer that reported
      }
    }
  };

  const schedule = () => {
    if (timer || failing.size === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void health.recheck();
    }, retryMs);
    timer.unref();
  };

  const health: StateDirHealth = {
    failed(what, error, retry) {
      const code = rootCode(error);
      metrics?.stateWriteFailures.inc({ what });
      const known = failing.get(what);
      failing.set(what, { code, retry: retry ?? known?.retry });
      if (!known) {
        log.error(
          { event: "state.write_failed", what, code, dir: options.stateDir, err: errorText(error) },
          `cannot write ${what} in the state directory (${code}); the turn's answer is delivered, the write is retried — free space or fix permissions on ${options.stateDir}`,
        );
        changed();
      }
      schedule();
    },
    succeeded(what) {
      if (!failing.delete(what)) return;
      log.info({ event: "state.write_recovered", what }, `${what} is written to the state directory again`);
      changed();
    },
    warnings: () => [...failing].map(([what, f]) => `state volume failing: ${what} (${f.code})`),
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    recheck() {
      checking ??= (async () => {
        try {
          if (failing.size === 0) return true;
          try {
            await probe();
          } catch {
            return false; // still failing: nothing to retry yet
          }
          for (const [what, failure] of [...failing]) {
            if (!failure.retry) {
              health.succeeded(what); // the volume takes writes again; the next write of it will tell
              continue;
            }
            try {
              await failure.retry();
              health.succeeded(what);
            } catch (error) {
              failing.set(what, { code: rootCode(error), retry: failure.retry });
            }
          }
          return failing.size === 0;
        } finally {
          checking = undefined;
          schedule();
        }
      })();
      return checking;
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      listeners.clear();
    },
  };
  return health;
}

/**
 * A session store that never forgets an id it was told while the disk refuses it: a failed `set`
 * keeps the id in memory (so the conversation goes on with it) and still throws (so the caller
 * reports it with a retry). `get` answers the remembered id until a write lands. @internal
 */
export function rememberingSessionStore(store: SessionStore): SessionStore {
  let pending: { id: string | undefined } | undefined;
  return {
    async get() {
      return pending ? pending.id : store.get();
    },
    async set(id) {
      try {
        await store.set(id);
        pending = undefined;
      } catch (error) {
        if (errnoCode((error as { cause?: unknown }).cause) !== undefined) pending = { id };
        throw error;
      }
    },
    async clear() {
      try {
        await store.clear();
        pending = undefined;
      } catch (error) {
        pending = { id: undefined };
        throw error;
      }
    },
  };
}
