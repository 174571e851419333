import type { SessionStore } from "@molecule/session";
import { clearWedge, markWedged } from "@molecule/wedge";
import { errorText, type RuntimeContext } from "./context.js";
import { safeError, type TurnReply } from "./executor.js";
import { redactText } from "./logger.js";

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
 * Runs turns through the executor and does the side effects every executor shares: the task label,
 * wedge and readiness bookkeeping, metrics and one log line per turn. @internal
 */
export function createTurnRunner(ctx: RuntimeContext): RunTurn {
  const { executor, gate, log, metrics, tasks } = ctx;
  const timeoutSeconds = ctx.config.runtime_config.timeout;

  return async function runTurn({ taskId, text, signal, contextId, session, onProgress }) {
    const done = tasks.start(firstLine(text) || "task");
    const t0 = Date.now();
    let reply: TurnReply;
    try {
      reply = await executor.runTurn({
        taskId,
        text,
        signal,
        ...(contextId !== undefined ? { contextId } : {}),
        ...(session ? { session } : {}),
        progress: (note) => {
          log.info({ event: "turn.progress", taskId, note }, note);
          onProgress?.(note);
        },
      });
    } catch (error) {
      reply = { outcome: "crash", detail: errorText(error) };
    }
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
      ...(reply.detail ? { detail: redactText(reply.detail).slice(0, 2_000) } : {}),
    };
    if (reply.outcome === "ok") log.info(logLine, "turn finished");
    else log.warn(logLine, "turn failed");
    return reply;
  };
}
