import type { HeartbeatStats, TaskTracker, TurnOutcome } from "@molecule/heartbeat";
import type { PreflightGate } from "@molecule/preflight";
import { wedgeState } from "@molecule/wedge";
import type { AdminStatus } from "./admin/protocol.js";
import type { TurnUsage } from "./executor.js";
import type { Scheduler } from "./scheduler.js";

/**
 * The daemon's view, as `RuntimeHandle.status()` returns it and the admin socket's `GET /status`
 * sends it (`AdminStatus` of `@molecule/runtime/admin`, with `lastOutcome` typed).
 */
export type RuntimeStatus = Omit<AdminStatus, "lastOutcome"> & { lastOutcome?: TurnOutcome | undefined };

/** What the status reads. The heartbeat starts after the admin socket: its stats are undefined until then. @internal */
export interface StatusInputs {
  workspaceId: string;
  /** The advertised URL. */
  url: string;
  /** `Date.now()` when the daemon started. */
  started: number;
  registered(): boolean;
  draining(): boolean;
  lastOutcome(): TurnOutcome | undefined;
  /** The last turn's usage, when its agent reported one. */
  lastUsage?(): TurnUsage | undefined;
  heartbeatStats(): Pick<HeartbeatStats, "platformStatus" | "beatsOk" | "beatsFailed"> | undefined;
  tracker: Pick<TaskTracker, "snapshot">;
  scheduler: Pick<Scheduler, "stats">;
  gate: Pick<PreflightGate, "lastReport">;
}

const usageOf = (usage: TurnUsage | undefined) => (usage ? { lastUsage: { ...usage } } : {});

/** @internal */
export function createStatus(inputs: StatusInputs): () => RuntimeStatus {
  return () => {
    const hb = inputs.heartbeatStats();
    const snap = inputs.tracker.snapshot();
    const wedge = wedgeState();
    const counts = inputs.scheduler.stats();
    const registered = inputs.registered();
    const draining = inputs.draining();
    return {
      workspaceId: inputs.workspaceId,
      url: inputs.url,
      registered,
      ready: registered && !draining && !wedge.wedged && (inputs.gate.lastReport?.ok ?? true),
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
      lastOutcome: inputs.lastOutcome(),
      ...usageOf(inputs.lastUsage?.()),
      beats: { ok: hb?.beatsOk ?? 0, failed: hb?.beatsFailed ?? 0 },
      uptimeSeconds: Math.floor((Date.now() - inputs.started) / 1000),
    };
  };
}
