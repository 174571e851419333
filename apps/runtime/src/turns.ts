import type { TaskTracker } from "@molecule/heartbeat";
import type { PreflightGate } from "@molecule/preflight";
import type { SessionStore } from "@molecule/session";
import { clearWedge, markWedged } from "@molecule/wedge";
import { errorText } from "./errors.js";
import {
  type Executor,
  safeError,
  type TurnActivity,
  type TurnOutcome,
  type TurnReply,
  type TurnUsage,
} from "./executor.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { Secrets } from "./redact.js";
import type { StateDirHealth } from "./state-dir-health.js";

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]?.trim() ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** One turn as the A2A side hands it over. @internal */
export interface TurnInput {
  taskId: string;
  text: string;
  signal: AbortSignal;
  /** The A2A context (conversation) of the turn. */
  contextId?: string;
  /** The context's session store; absent for the default context (the executor's own store). */
  session?: SessionStore;
  /** Hears each progress note the executor reports (the task's status updates). */
  onProgress?(note: string): void;
  /** Hears what the agent did (tool calls, results, thinking), bounded and masked. */
  onActivity?(activity: ActivitySummary): void;
}

/** A TurnActivity as it leaves the daemon: its input, output or text cut to ACTIVITY_SUMMARY_CHARS and masked. @internal */
export interface ActivitySummary {
  kind: TurnActivity["kind"];
  tool?: string;
  id?: string;
  summary: string;
  error?: boolean;
}

/** Distinct `model` label values on the token and cost counters; later names count as "other". */
export const MAX_MODEL_LABELS = 16;

/** The most of a tool's input or output (or of thinking text) one activity event carries. */
export const ACTIVITY_SUMMARY_CHARS = 1_000;

/** Text for any JSON value, cut to `max` characters with a marker saying how much was left out. */
function summarize(value: unknown, max: number): string {
  let text: string;
  if (typeof value === "string") text = value;
  else if (value === undefined) text = "";
  else {
    try {
      text = JSON.stringify(value) ?? "";
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

/** Bounds and masks one activity; the masking runs on the cut text (a secret cut in half is masked by its pattern or not at all: cut first, then mask the whole). */
function summarizeActivity(event: TurnActivity, mask: (text: string) => string): ActivitySummary {
  const clip = (text: string) => text.slice(0, 200);
  if (event.kind === "thinking")
    return { kind: "thinking", summary: mask(summarize(event.text, ACTIVITY_SUMMARY_CHARS)) };
  const base = {
    kind: event.kind,
    ...(event.tool !== undefined ? { tool: clip(mask(event.tool)) } : {}),
    ...(event.id !== undefined ? { id: clip(event.id) } : {}),
  };
  if (event.kind === "tool_call") return { ...base, summary: mask(summarize(event.input, ACTIVITY_SUMMARY_CHARS)) };
  return {
    ...base,
    summary: mask(summarize(event.output, ACTIVITY_SUMMARY_CHARS)),
    ...(event.error ? { error: true } : {}),
  };
}

/** What the turn runner uses, and nothing more. @internal */
export interface TurnRunnerOptions {
  executor: Executor;
  /** `runtime_config.timeout` (seconds), named in a timed-out turn's error. */
  timeoutSeconds: number;
  /** Readiness bookkeeping: an ok turn clears an auth failure, a crash re-runs the checks. */
  gate: Pick<PreflightGate, "noteAgentSuccess" | "noteAgentOutput" | "reset">;
  log: Logger;
  metrics: Pick<Metrics, "turns" | "turnDuration" | "modelTokens" | "tokens" | "costUsd">;
  secrets: Pick<Secrets, "refresh" | "maskText" | "maskReply">;
  /** The heartbeat's task tracker: the current task's label, active count and error rate. */
  tracker: Pick<TaskTracker, "start">;
  /** A failing state directory is re-checked after every turn (freed space shows at once). */
  stateDirHealth: Pick<StateDirHealth, "warnings" | "recheck">;
  /** The clock progress logging is rate-limited by (tests inject one). */
  now?: () => number;
}

/**
 * A turn's progress is logged at most once per this, whatever the level: the first note at INFO (one
 * INFO line per turn), later ones at DEBUG with how many were skipped since the last line.
 */
export const PROGRESS_LOG_INTERVAL_MS = 1_000;

/**
 * The one place turns are accounted: the last outcome, the turn metrics and the tracker are written
 * here only (the A2A service calls `run`, and `notRun` for a turn that never reached the executor). @internal
 */
export interface TurnRunner {
  run(turn: TurnInput): Promise<TurnReply>;
  /**
   * A turn admitted or asked for but never run: refused as busy (it becomes the last outcome), or
   * cancelled while queued (counted only).
   */
  notRun(outcome: "busy" | "cancelled"): void;
  /** The last turn's outcome; undefined before the first. */
  lastOutcome(): TurnOutcome | undefined;
  /** The last turn's usage (its agent's own estimate); undefined before the first or when it reported none. */
  lastUsage(): TurnUsage | undefined;
}

/**
 * What leaves the daemon from a turn: the answer with the workspace's own credentials masked (exact
 * values only — a key-shaped string the user asked for stays), errors and details with every known
 * secret and pattern masked.
 */
function maskReply(reply: TurnReply, secrets: Pick<Secrets, "maskText" | "maskReply">): TurnReply {
  const out: TurnReply = { ...reply };
  if (reply.text !== undefined) out.text = secrets.maskReply(reply.text);
  if (reply.error !== undefined) out.error = secrets.maskText(reply.error);
  if (reply.detail !== undefined) out.detail = secrets.maskText(reply.detail);
  if (reply.wedgeReason !== undefined) out.wedgeReason = secrets.maskText(reply.wedgeReason);
  return out;
}

/**
 * Runs turns through the executor and does the side effects every executor shares: the task label,
 * wedge and readiness bookkeeping, metrics and one log line per turn. @internal
 */
export function createTurnRunner(options: TurnRunnerOptions): TurnRunner {
  const { executor, gate, log, metrics, secrets, tracker, timeoutSeconds, stateDirHealth } = options;
  const now = options.now ?? Date.now;
  let lastOutcome: TurnOutcome | undefined;
  let lastUsage: TurnUsage | undefined;
  const models = new Set<string>();

  /** The `model` label: the agent's name for it, bounded (beyond MAX_MODEL_LABELS distinct names: "other"). */
  function modelLabel(model: string | undefined): string {
    const name = (model ?? "unknown").slice(0, 100);
    if (models.has(name)) return name;
    if (models.size >= MAX_MODEL_LABELS) return "other";
    models.add(name);
    return name;
  }

  function countUsage(usage: TurnUsage, outcome: TurnOutcome) {
    metrics.modelTokens.inc({ direction: "input" }, usage.input_tokens);
    metrics.modelTokens.inc({ direction: "output" }, usage.output_tokens);
    const model = modelLabel(usage.model);
    const count = (kind: string, n: number | undefined) => {
      if (n !== undefined && Number.isFinite(n) && n > 0) metrics.tokens.inc({ kind, model, outcome }, n);
    };
    count("input", usage.input_tokens);
    count("output", usage.output_tokens);
    count("cache_read", usage.cache_read_input_tokens);
    count("cache_creation", usage.cache_creation_input_tokens);
    if (usage.cost_usd !== undefined && Number.isFinite(usage.cost_usd) && usage.cost_usd > 0) {
      metrics.costUsd.inc({ model, outcome }, usage.cost_usd);
    }
  }

  async function run({
    taskId,
    text,
    signal,
    contextId,
    session,
    onProgress,
    onActivity,
  }: TurnInput): Promise<TurnReply> {
    const done = tracker.start(firstLine(text) || "task");
    const t0 = Date.now();
    let reply: TurnReply;
    await secrets.refresh(); // a rotated platform token or re-login is masked from this turn on
    let notes = 0;
    let skipped = 0;
    let lastLoggedAt = Number.NEGATIVE_INFINITY;
    const logProgress = (note: string) => {
      notes += 1;
      const at = now();
      if (at - lastLoggedAt < PROGRESS_LOG_INTERVAL_MS) {
        skipped += 1;
        return;
      }
      const line = { event: "turn.progress", taskId, note, ...(skipped > 0 ? { skipped } : {}) };
      if (notes === 1) log.info(line, note);
      else log.debug?.(line, note);
      lastLoggedAt = at;
      skipped = 0;
    };
    try {
      reply = await executor.runTurn({
        taskId,
        text,
        signal,
        ...(contextId !== undefined ? { contextId } : {}),
        ...(session ? { session } : {}),
        progress: (raw) => {
          const note = secrets.maskText(raw);
          logProgress(note);
          onProgress?.(note);
        },
        activity: (event) => {
          if (onActivity) onActivity(summarizeActivity(event, secrets.maskText));
        },
      });
    } catch (error) {
      reply = { outcome: "crash", detail: errorText(error) };
    }
    reply = maskReply(reply, secrets);
    switch (reply.outcome) {
      case "ok":
        clearWedge();
        gate.noteAgentSuccess();
        break;
      case "auth":
        gate.noteAgentOutput(reply.detail ?? "not logged in");
        break;
      case "wedged":
        markWedged(reply.wedgeReason ?? `${executor.name} wedged — restart workspace`, { code: "E_AGENT_WEDGED" });
        break;
      case "crash":
        gate.reset();
        break;
      default:
        break;
    }
    lastOutcome = reply.outcome;
    const failure = reply.outcome === "ok" ? undefined : safeError(reply, timeoutSeconds);
    done(reply.outcome, failure);
    metrics.turns.inc({ outcome: reply.outcome });
    metrics.turnDuration.observe((Date.now() - t0) / 1000);
    lastUsage = reply.usage ? { ...reply.usage } : undefined;
    if (reply.usage) countUsage(reply.usage, reply.outcome);
    const logLine = {
      event: "turn.finished",
      taskId,
      ...(contextId !== undefined ? { contextId } : {}),
      outcome: reply.outcome,
      ms: Date.now() - t0,
      ...(notes > 0 ? { progressNotes: notes } : {}),
      ...(reply.detail ? { detail: reply.detail.slice(0, 2_000) } : {}),
      ...(reply.usage ? { usage: reply.usage } : {}),
    };
    if (reply.outcome === "ok") log.info(logLine, "turn finished");
    else log.warn(logLine, "turn failed");
    // A failing state volume is re-checked after every turn too (besides its timer): freed space shows at once.
    if (stateDirHealth.warnings().length > 0) void stateDirHealth.recheck();
    return reply;
  }

  return {
    run,
    notRun(outcome) {
      if (outcome === "busy") lastOutcome = outcome;
      metrics.turns.inc({ outcome });
    },
    lastOutcome: () => lastOutcome,
    lastUsage: () => lastUsage,
  };
}
