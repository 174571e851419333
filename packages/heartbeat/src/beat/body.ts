import { capabilityFlags } from "@molecule/internal";
import type { TaskSnapshot } from "../tracker/tracker.js";

/** docs/CONTRACT.md `runtime_metadata`: sent on every beat (absent means "clear my overrides"). */
export interface RuntimeMetadata {
  capabilities: {
    heartbeat: boolean;
    scheduler: boolean;
    session: boolean;
    status_mgmt: boolean;
    retry: boolean;
    activity_decoration: boolean;
    channel_dispatch: boolean;
  };
  /** A positive integer, when set. */
  idle_timeout_seconds?: number;
}

/** The full docs/CONTRACT.md heartbeat body. */
export interface HeartbeatBody {
  workspace_id: string;
  error_rate: number;
  sample_error: string;
  active_tasks: number;
  current_task: string;
  uptime_seconds: number;
  runtime_state?: "wedged";
  runtime_metadata?: RuntimeMetadata;
}

export interface HeartbeatBodyInput {
  workspaceId: string;
  uptimeSeconds: number;
  tasks: TaskSnapshot;
  wedge: { wedged: boolean; reason: string };
  metadata: RuntimeMetadata | undefined;
  /** The final beat of `stop()`: nothing is running any more. */
  final?: boolean;
}

/**
 * The one body builder for every heartbeat-shaped push: the full body every time, so a push can
 * never flip a wedged workspace back to online by leaving `runtime_state` out.
 */
export function buildHeartbeatBody(input: HeartbeatBodyInput): HeartbeatBody {
  const rate = Number.isFinite(input.tasks.errorRate) ? Math.min(1, Math.max(0, input.tasks.errorRate)) : 0;
  const body: HeartbeatBody = {
    workspace_id: input.workspaceId,
    error_rate: Math.round(rate * 10_000) / 10_000,
    sample_error: input.wedge.wedged ? input.wedge.reason || "wedged" : input.tasks.sampleError,
    active_tasks: input.final ? 0 : Math.max(0, Math.trunc(input.tasks.active)),
    current_task: input.final ? "" : input.tasks.currentLabel,
    uptime_seconds: Math.max(0, Math.floor(input.uptimeSeconds)),
  };
  if (input.wedge.wedged) body.runtime_state = "wedged";
  if (input.metadata) body.runtime_metadata = normaliseMetadata(input.metadata);
  return body;
}

function normaliseMetadata(metadata: RuntimeMetadata): RuntimeMetadata {
  // Every flag of the one list, in the contract's order, true only when set to true.
  const out: RuntimeMetadata = { capabilities: capabilityFlags(metadata.capabilities) };
  const idle = metadata.idle_timeout_seconds;
  if (typeof idle === "number" && Number.isInteger(idle) && idle > 0) out.idle_timeout_seconds = idle;
  return out;
}
