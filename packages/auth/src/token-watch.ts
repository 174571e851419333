import type { Clock } from "./clock.js";
import { AuthError, errnoCode } from "./errors.js";
import type { AuthLogger } from "./logger.js";
import type { TokenStoreFs, TokenWatcher } from "./token-fs.js";

/** What the watch needs of its token store. @internal */
export interface TokenWatchContext {
  dir: string;
  file: string;
  fs: TokenStoreFs;
  clock: Clock;
  logger: AuthLogger | undefined;
  pollIntervalMs: number;
  /** Re-reads the token file (cached by stat); the store fires `onRotated` from there. */
  reload(): Promise<unknown>;
}

/** @internal */
export interface TokenWatch {
  /** Stops the watcher and the poll. Idempotent. */
  close(): void;
}

/**
 * Watches the token's directory (fs.watch, plus a stat poll every `pollIntervalMs` that also
 * restarts a watcher that died or could not start) and re-reads the token on every change. @internal
 */
export function startTokenWatch(ctx: TokenWatchContext): TokenWatch {
  const { dir, file, fs, clock, logger, pollIntervalMs, reload } = ctx;
  let closed = false;
  let watcher: TokenWatcher | undefined;
  let pollHandle: unknown;
  let running: Promise<void> | undefined;
  let checkAgain = false;
  let lastCheckError: string | undefined;

  const checkOnce = async () => {
    try {
      await reload();
      lastCheckError = undefined;
    } catch (error) {
      const code = AuthError.isInstance(error) ? error.code : (errnoCode(error) ?? "error");
      if (code !== lastCheckError) {
        lastCheckError = code;
        logger?.warn(
          { event: "token.check_failed", file, code },
          error instanceof Error ? error.message : "could not check the token file",
        );
      }
    }
  };

  /** One check at a time; a request during a check runs one more after it. Resolves when all are done. */
  const check = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      checkAgain = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          checkAgain = false;
          await checkOnce();
        } while (checkAgain && !closed);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const startWatcher = () => {
    if (closed || watcher) return;
    try {
      const w = fs.watch(dir, () => {
        void check();
      });
      w.on("error", (error) => {
        logger?.warn(
          { event: "token.watch_failed", file, code: errnoCode(error) },
          `watching ${dir} failed; falling back to a stat poll every ${pollIntervalMs} ms`,
        );
        try {
          w.close();
        } catch {
          // already closed
        }
        if (watcher === w) watcher = undefined;
      });
      watcher = w;
    } catch (error) {
      logger?.debug?.(
        { event: "token.watch_unavailable", file, code: errnoCode(error) },
        `cannot watch ${dir} yet; polling every ${pollIntervalMs} ms`,
      );
    }
  };

  const schedulePoll = () => {
    if (closed) return;
    pollHandle = clock.setTimeout(() => {
      pollHandle = undefined;
      startWatcher(); // the directory may have appeared since, or the watcher died
      void check().finally(schedulePoll);
    }, pollIntervalMs);
  };

  startWatcher();
  void check();
  schedulePoll();

  return {
    close() {
      if (closed) return;
      closed = true;
      if (pollHandle !== undefined) clock.clearTimeout(pollHandle);
      pollHandle = undefined;
      try {
        watcher?.close();
      } catch {
        // already closed
      }
      watcher = undefined;
    },
  };
}
