import type { SessionStore } from "@molecule/session";
import { clearWedge, markWedged } from "@molecule/wedge";
import { errorText, type RuntimeContext } from "./context.js";
import { safeError, type TurnReply } from "./executor.js";
import type { Secrets } from "./redact.js";

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
}

export type RunTurn = (turn: TurnInput) => Promise<TurnReply>;

/**
 * What leaves the daemon from a turn: the answer with the workspace's own credentials masked (exact
 * values only — a key-shaped string the user asked for stays), errors and details with every known
 * secret and pattern masked.
 */
function maskReply(reply: TurnReply, secrets: Secrets): TurnReply {
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
export function createTurnRunner(ctx: RuntimeContext): RunTurn {
  const { executor, gate, log, metrics, secrets, tasks } = ctx;
  const timeoutSeconds = ctx.config.runtime_config.timeout;

  return async function runTurn({ taskId, text, signal, contextId, session, onProgress }) {
    const done = tasks.start(firstLine(text) || "task");
    const t0 = Date.now();
    let reply: TurnReply;
    await secrets.refresh(); // a rotated platform token or re-login is masked from this turn on
    try {
      reply = await executor.runTurn({
        taskId,
        text,
        signal,
        ...(contextId !== undefined ? { contextId } : {}),
        ...(session ? { session } : {}),
        progress: (raw) => {
          const note = secrets.maskText(raw);
          log.info({ event: "turn.progress", taskId, note }, note);
          onProgress?.(note);
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
    ctx.state.lastOutcome = reply.outcome;
    const failure = reply.outcome === "ok" ? undefined : safeError(reply, timeoutSeconds);
    done(reply.outcome, failure);
    metrics.turns.inc({ outcome: reply.outcome });
    metrics.turnDuration.observe((Date.now() - t0) / 1000);
    const logLine = {
      event: "turn.finished",
      taskId,
      ...(contextId !== undefined ? { contextId } : {}),
      outcome: reply.outcome,
      ms: Date.now() - t0,
      ...(reply.detail ? { detail: reply.detail.slice(0, 2_000) } : {}),
    };
    if (reply.outcome === "ok") log.info(logLine, "turn finished");
    else log.warn(logLine, "turn failed");
    // A failing state volume is re-checked after every turn too (besides its timer): freed space shows at once.
    if (ctx.stateHealth.warnings().length > 0) void ctx.stateHealth.recheck();
    return reply;
  };
}
