import { join } from "node:path";
import type { TokenStore } from "@molecule/auth";
import type { WorkspaceConfig } from "@molecule/config";
import {
  createDelegationPoller,
  createHeartbeat,
  type DelegationPoller,
  type Heartbeat,
  type RuntimeMetadata,
  type TaskSnapshot,
  type TaskTracker,
  type WorkspaceUnknownEvent,
} from "@molecule/heartbeat";
import { capabilityFlags } from "@molecule/internal";
import { onWedgeChange } from "@molecule/wedge";
import { errorText } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { Registrar } from "./register.js";
import type { StateDirHealth } from "./state-dir-health.js";

/**
 * The task tracker as the platform sees it: while a state write is failing and no turn failed,
 * `sample_error` says so (operators read it; `error_rate` is untouched — answers still go out).
 */
function withStateDirHealth(
  tracker: Pick<TaskTracker, "snapshot" | "onChange">,
  stateDirHealth: Pick<StateDirHealth, "warnings" | "onChange">,
): Pick<TaskTracker, "snapshot" | "onChange"> {
  return {
    snapshot(): TaskSnapshot {
      const snapshot = tracker.snapshot();
      const warning = stateDirHealth.warnings()[0];
      return warning && !snapshot.sampleError ? { ...snapshot, sampleError: warning } : snapshot;
    },
    onChange(listener) {
      const offTracker = tracker.onChange(listener);
      const offHealth = stateDirHealth.onChange(listener);
      return () => {
        offTracker();
        offHealth();
      };
    },
  };
}

/**
 * A heartbeat answered 404 "workspace not found" (the workspace was deleted, maybe recreated): register
 * again on every such beat — they back off, so the re-registers do — and beat at once when it works,
 * so readiness comes back without waiting for the slow retry. A refusal is logged once per cause (WARN),
 * then at debug: the heartbeat already said the platform does not know us, and says when that outlasts
 * the TTL (readiness drops then). @internal
 */
export function rejoinOnNotFound(input: {
  registrar: Pick<Registrar, "register">;
  heartbeat: Pick<Heartbeat, "beatNow">;
  log: Logger;
  draining(): boolean;
}): (event: WorkspaceUnknownEvent) => void {
  const { registrar, heartbeat, log } = input;
  let refused: string | undefined;
  let inFlight = false;
  return (event) => {
    if (input.draining() || inFlight) return;
    inFlight = true;
    registrar
      .register("the platform does not know this workspace (heartbeat 404)")
      .then(
        () => {
          refused = undefined;
          void heartbeat.beatNow("re-registered");
        },
        (error: unknown) => {
          const code = String((error as { code?: unknown }).code ?? "error");
          const status = (error as { status?: unknown }).status;
          const cause = `${code}:${String(status)}`;
          const line = { event: "register.rejoin_refused", code, status, streak: event.streak, err: errorText(error) };
          if (cause === refused) log.debug?.(line, "re-registering was refused again");
          else log.warn(line, "re-registering after a heartbeat 404 was refused; retrying as the heartbeats back off");
          refused = cause;
        },
      )
      .finally(() => {
        inFlight = false;
      });
  };
}

/** What the platform loops use. @internal */
export interface PlatformLoopsOptions {
  platformUrl: string;
  workspaceId: string;
  tokens: TokenStore;
  config: Pick<WorkspaceConfig, "heartbeat" | "delegation">;
  /** Where the poller keeps `delegation_results.jsonl`. */
  stateDir: string;
  log: Logger;
  metrics: Pick<Metrics, "wedged">;
  tracker: Pick<TaskTracker, "snapshot" | "onChange">;
  stateDirHealth: Pick<StateDirHealth, "warnings" | "onChange">;
  /** Re-registers after an outage the platform lost us in, or once a refused token is replaced. */
  registrar: Pick<Registrar, "register" | "registered" | "lost">;
  /** Whether shutdown has begun (no re-register then). */
  draining(): boolean;
  /** The `session` capability: the daemon keeps the agent's session (an agent that resumes, not an executor of your own). */
  sessions: boolean;
}

/** The started loops; `stop` ends them in shutdown's order (the poller, then the heartbeat's final beat). Idempotent. @internal */
export interface PlatformLoops {
  readonly heartbeat: Heartbeat;
  readonly poller: DelegationPoller;
  stop(): Promise<void>;
}

/**
 * Starts the heartbeat (re-registering after an outage the platform lost us in) and the delegation
 * poller, and keeps the wedge gauge current. @internal
 */
export async function startPlatformLoops(options: PlatformLoopsOptions): Promise<PlatformLoops> {
  const { config, log, platformUrl, stateDir, tokens, workspaceId, registrar } = options;
  const metadata = (): RuntimeMetadata => ({
    capabilities: capabilityFlags({ heartbeat: true, session: options.sessions, status_mgmt: true, retry: true }),
  });
  const heartbeat = createHeartbeat({
    platformUrl,
    workspaceId,
    tokens,
    intervalMs: config.heartbeat.interval_seconds * 1000,
    jitter: config.heartbeat.jitter,
    ttlMs: config.heartbeat.ttl_seconds * 1000,
    metadata,
    tasks: withStateDirHealth(options.tracker, options.stateDirHealth),
    logger: log,
  });
  const reregister = (why: string) =>
    registrar.register(why).catch((error: unknown) => {
      log.error(
        { event: "register.gave_up", why, code: (error as { code?: unknown }).code, err: errorText(error) },
        "the platform refused to register this workspace; it re-registers when the token file changes",
      );
    });
  heartbeat.onOutageRecovered(() => {
    registrar.lost();
    void reregister("platform lost us or a long outage");
  });
  heartbeat.onWorkspaceUnknown(rejoinOnNotFound({ registrar, heartbeat, log, draining: options.draining }));
  // A refused re-register waits for what can fix it: a new token in the token file (the store stops
  // watching at shutdown).
  tokens.onRotated(() => {
    if (!registrar.registered() && !options.draining()) void reregister("token file changed");
  });
  await heartbeat.start();
  const offWedge = onWedgeChange((wedge) => {
    options.metrics.wedged.set(wedge.wedged ? 1 : 0);
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
  poller.start();
  let stopping: Promise<void> | undefined;
  return {
    heartbeat,
    poller,
    stop() {
      stopping ??= (async () => {
        await poller.stop();
        await heartbeat.stop(); // final beat with active_tasks 0, at most 2 s
        offWedge();
      })();
      return stopping;
    },
  };
}
