import { rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { Logger } from "./logger.js";
import type { Scheduler } from "./scheduler.js";

/** What shutdown stops, in its order. @internal */
export interface ShutdownOptions {
  log: Logger;
  /** Whole shutdown budget in ms. */
  graceMs: number;
  /** Begins draining: aborts the daemon's halt signal (waits end, loops stop retrying, new turns are refused as busy). */
  halt(): void;
  scheduler: Pick<Scheduler, "close" | "idle" | "abortRunning">;
  /** Stops the idle prompt's timer (nothing before the prompts started). */
  stopPrompts(): void;
  /** After the turn in flight: stops the poller and the heartbeat (nothing before they started). */
  stopPlatformLoops(): Promise<void>;
  /** Then the rest that boot opened before serving: the state dir's retry timer, the token watcher, the executor. */
  closeRest(): Promise<void>;
  servers: readonly Server[];
  /** Removed once the servers are closed. */
  adminSocket: string;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeIdleConnections?.();
  });
}

/**
 * Graceful shutdown within `graceMs`: refuse new turns, let the turn in flight finish (grace − 4 s,
 * then terminate its process group), stop the poller and the heartbeat (its final beat), close the
 * rest. Stops only what was started, so it also ends an aborted boot. Idempotent. @internal
 */
export function createShutdown(options: ShutdownOptions): (reason?: string) => Promise<void> {
  const { log, scheduler, graceMs } = options;
  let stopping: Promise<void> | undefined;
  return function stop(reason = "stop"): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      const t0 = Date.now();
      options.halt();
      log.info({ event: "runtime.stopping", reason, graceMs }, "shutting down");
      scheduler.close();
      options.stopPrompts();
      // The turn in flight gets grace − 4 s, then its process group is terminated.
      const turnBudget = Math.max(0, graceMs - 4_000);
      const idle = scheduler.idle();
      const finishedInTime = await Promise.race([idle.then(() => true), delay(turnBudget).then(() => false)]);
      if (!finishedInTime) {
        log.warn(
          { event: "runtime.turn_aborted" },
          "the turn in flight did not finish within the grace budget; terminating it",
        );
        scheduler.abortRunning();
        await Promise.race([idle, delay(2_000)]);
      }
      await options.stopPlatformLoops(); // the heartbeat's final beat has active_tasks 0, at most 2 s
      await options.closeRest();
      await Promise.race([
        Promise.all(options.servers.map(closeServer)),
        delay(Math.max(100, graceMs - (Date.now() - t0))),
      ]);
      await rm(options.adminSocket, { force: true });
      log.info({ event: "runtime.stopped", ms: Date.now() - t0 }, "stopped");
    })();
    return stopping;
  };
}
