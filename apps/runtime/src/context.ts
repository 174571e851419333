import type { TokenStore } from "@molecule/auth";
import type { Settings, WorkspaceConfig } from "@molecule/config";
import type { DelegationPoller, Heartbeat, TaskTracker, TurnOutcome } from "@molecule/heartbeat";
import type { PreflightGate } from "@molecule/preflight";
import type { Executor } from "./executor.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { Secrets } from "./redact.js";
import type { Scheduler } from "./scheduler.js";
import type { StateHealth } from "./state-health.js";

/**
 * What the parts of one daemon share: created once in `startRuntime` (after preflight passed) and
 * handed to each part's factory (`createTurns(ctx)`, `serveA2A(ctx, …)`, …). @internal
 */
export interface RuntimeContext {
  readonly env: NodeJS.ProcessEnv;
  readonly settings: Settings;
  readonly config: WorkspaceConfig;
  readonly configDir: string;
  /** `settings.stateDir`, created with mode 0700. */
  readonly stateDir: string;
  readonly workspaceId: string;
  readonly platformUrl: string;
  /** `Date.now()` when `startRuntime` was called. */
  readonly started: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly tokens: TokenStore;
  readonly tasks: TaskTracker;
  /** Readiness re-checks of what can change at run time (the agent's credentials). */
  readonly gate: PreflightGate;
  readonly executor: Executor;
  readonly scheduler: Scheduler;
  /** Every secret value the daemon knows: masks logs, turn details and (exact values only) replies. */
  readonly secrets: Secrets;
  /** Failing writes to the state directory (readiness warnings, `sample_error`). */
  readonly stateHealth: StateHealth;
  /** Aborted when shutdown begins: waits (register backoff) end at once, loops stop retrying. */
  readonly halt: AbortSignal;
  /** The daemon's mutable state; each field has one writer (named beside it). */
  readonly state: RuntimeState;
  /** The parts started so far: boot fills them in, shutdown stops what is there. */
  readonly parts: RuntimeParts;
}

export interface RuntimeState {
  /** The advertised URL, known once the A2A port is bound (serve). */
  url: string;
  /** Registration succeeded; false again after an outage the platform lost us in (register, heartbeat). */
  registered: boolean;
  /** Shutdown has begun (shutdown). */
  draining: boolean;
  /** The last turn's outcome (turns). */
  lastOutcome: TurnOutcome | undefined;
}

export interface RuntimeParts {
  heartbeat?: Heartbeat;
  poller?: DelegationPoller;
  /** Unsubscribes the wedge-gauge listener. */
  offWedge?: () => void;
  /** Stops the idle prompt's timer. */
  prompts?: { stop(): void };
}

/** The message of anything thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
