import { join } from "node:path";
import {
  createDelegationPoller,
  createHeartbeat,
  type RuntimeMetadata,
  type TaskSnapshot,
  type TaskTracker,
} from "@molecule/heartbeat";
import { onWedgeChange } from "@molecule/wedge";
import { errorText, type RuntimeContext } from "./context.js";
import type { StateHealth } from "./state-health.js";

/**
 * The task tracker as the platform sees it: while a state write is failing and no turn failed,
 * `sample_error` says so (operators read it; `error_rate` is untouched — answers still go out).
 */
function withStateHealth(tasks: TaskTracker, health: StateHealth): Pick<TaskTracker, "snapshot" | "onChange"> {
  return {
    snapshot(): TaskSnapshot {
      const snapshot = tasks.snapshot();
      const warning = health.warnings()[0];
      return warning && !snapshot.sampleError ? { ...snapshot, sampleError: warning } : snapshot;
    },
    onChange(listener) {
      const offTasks = tasks.onChange(listener);
      const offHealth = health.onChange(listener);
      return () => {
        offTasks();
        offHealth();
      };
    },
  };
}

/**
 * Starts the heartbeat (re-registering after an outage the platform lost us in) and the delegation
 * poller, and keeps the wedge gauge current. Records them in `ctx.parts` for status and shutdown. @internal
 */
export async function startPlatformLoops(
  ctx: RuntimeContext,
  register: (why: string) => Promise<void>,
  options: { customExecutor: boolean },
): Promise<void> {
  const { config, log, platformUrl, stateDir, tokens, workspaceId } = ctx;
  const metadata = (): RuntimeMetadata => ({
    capabilities: {
      heartbeat: true,
      scheduler: false,
      // An executor of your own replaces config.runtime's: the daemon keeps no session for it.
      session: !options.customExecutor && config.runtime === "claude-code",
      status_mgmt: true,
      retry: true,
      activity_decoration: false,
      channel_dispatch: false,
    },
  });
  const heartbeat = createHeartbeat({
    platformUrl,
    workspaceId,
    tokens,
    intervalMs: config.heartbeat.interval_seconds * 1000,
    jitter: config.heartbeat.jitter,
    ttlMs: config.heartbeat.ttl_seconds * 1000,
    metadata,
    tasks: withStateHealth(ctx.tasks, ctx.stateHealth),
    logger: log,
  });
  ctx.parts.heartbeat = heartbeat;
  const reregister = (why: string) =>
    register(why).catch((error: unknown) => {
      log.error(
        { event: "register.gave_up", why, code: (error as { code?: unknown }).code, err: errorText(error) },
        "the platform refused to register this workspace; it re-registers when the token file changes",
      );
    });
  heartbeat.onOutageRecovered(() => {
    ctx.state.registered = false;
    void reregister("platform lost us or a long outage");
  });
  // A refused re-register waits for what can fix it: a new token in the token file (the store stops
  // watching at shutdown).
  tokens.onRotated(() => {
    if (!ctx.state.registered && !ctx.state.draining) void reregister("token file changed");
  });
  await heartbeat.start();
  ctx.parts.offWedge = onWedgeChange((state) => {
    ctx.metrics.wedged.set(state.wedged ? 1 : 0);
  });
  const poller = createDelegationPoller({
    platformUrl,
    workspaceId,
    tokens,
    intervalMs: config.delegation.poll_interval_seconds * 1000,
    resultsFile: join(stateDir, "delegation_results.jsonl"),
    stateDir,
    logger: log,
  });
  ctx.parts.poller = poller;
  poller.start();
}
