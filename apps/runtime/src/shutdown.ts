import { rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { RuntimeContext } from "./context.js";

export interface ShutdownOptions {
  /** Whole shutdown budget in ms. */
  graceMs: number;
  /** Aborts `ctx.halt`: waits end, loops stop retrying. */
  halt(): void;
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
 * rest. Stops only what `ctx.parts` says was started, so it also ends an aborted boot. Idempotent. @internal
 */
export function createShutdown(ctx: RuntimeContext, options: ShutdownOptions): (reason?: string) => Promise<void> {
  const { log, scheduler, parts } = ctx;
  const { graceMs } = options;
  let stopping: Promise<void> | undefined;
  return function stop(reason = "stop"): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      const t0 = Date.now();
      ctx.state.draining = true;
      options.halt();
      log.info({ event: "runtime.stopping", reason, graceMs }, "shutting down");
      scheduler.close();
      parts.prompts?.stop();
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
      await parts.poller?.stop();
      await parts.heartbeat?.stop(); // final beat with active_tasks 0, at most 2 s
      parts.offWedge?.();
      ctx.stateHealth.stop();
      ctx.tokens.close();
      await ctx.executor.close?.();
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
