import type { TurnOutcome } from "@molecule/heartbeat";
import { wedgeState } from "@molecule/wedge";
import type { AdminStatus } from "./admin/protocol.js";
import type { RuntimeContext } from "./context.js";

/**
 * The daemon's view, as `RuntimeHandle.status()` returns it and the admin socket's `GET /status`
 * sends it (`AdminStatus` of `@molecule/runtime/admin`, with `lastOutcome` typed).
 */
export type RuntimeStatus = Omit<AdminStatus, "lastOutcome"> & { lastOutcome?: TurnOutcome | undefined };

/** @internal */
export function createStatus(ctx: RuntimeContext): () => RuntimeStatus {
  return () => {
    const hb = ctx.parts.heartbeat?.stats();
    const snap = ctx.tasks.snapshot();
    const wedge = wedgeState();
    const counts = ctx.scheduler.stats();
    const { registered, draining } = ctx.state;
    return {
      workspaceId: ctx.workspaceId,
      url: ctx.state.url,
      registered,
      ready: registered && !draining && !wedge.wedged && (ctx.gate.lastReport?.ok ?? true),
      draining,
      platformStatus: hb?.platformStatus,
      wedge: {
        wedged: wedge.wedged,
        reason: wedge.reason,
        ...(wedge.code ? { code: wedge.code } : {}),
        ...(wedge.since ? { since: wedge.since.toISOString() } : {}),
      },
      currentTask: snap.currentLabel,
      activeTasks: snap.active,
      queuedTasks: counts.queued,
      lastOutcome: ctx.state.lastOutcome,
      beats: { ok: hb?.beatsOk ?? 0, failed: hb?.beatsFailed ?? 0 },
      uptimeSeconds: Math.floor((Date.now() - ctx.started) / 1000),
    };
  };
}
