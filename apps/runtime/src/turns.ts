import { clearWedge, markWedged } from "@molecule/wedge";
import { type A2AHandler, RPC, type SendOutcome } from "./a2a.js";
import { errorText, type RuntimeContext } from "./context.js";
import { safeError, type TurnReply } from "./executor.js";
import { redactText } from "./logger.js";
import { BusyError, CancelledError } from "./scheduler.js";

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]?.trim() ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

export type RunTurn = (taskId: string, text: string, signal: AbortSignal) => Promise<TurnReply>;

/**
 * Runs turns through the executor and does the side effects every executor shares: the task label,
 * wedge and readiness bookkeeping, metrics and one log line per turn. @internal
 */
export function createTurnRunner(ctx: RuntimeContext): RunTurn {
  const { executor, gate, log, metrics, tasks } = ctx;
  const timeoutSeconds = ctx.config.runtime_config.timeout;

  return async function runTurn(taskId, text, signal) {
    const done = tasks.start(firstLine(text) || "task");
    const t0 = Date.now();
    let reply: TurnReply;
    try {
      reply = await executor.runTurn({
        taskId,
        text,
        signal,
        progress: (note) => log.info({ event: "turn.progress", taskId, note }, note),
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
      outcome: reply.outcome,
      ms: Date.now() - t0,
      ...(reply.detail ? { detail: redactText(reply.detail).slice(0, 2_000) } : {}),
    };
    if (reply.outcome === "ok") log.info(logLine, "turn finished");
    else log.warn(logLine, "turn failed");
    return reply;
  };
}

/** The A2A side of turns: each message becomes a scheduled turn; busy, cancelled and failed map to JSON-RPC errors. @internal */
export function createA2AHandler(ctx: RuntimeContext): A2AHandler {
  const { log, metrics, scheduler } = ctx;
  const timeoutSeconds = ctx.config.runtime_config.timeout;
  const runTurn = createTurnRunner(ctx);
  return {
    async send({ taskId, text }): Promise<SendOutcome> {
      try {
        const reply = await scheduler.submit({ id: taskId, run: (signal) => runTurn(taskId, text, signal) });
        if (reply.outcome === "ok") return { ok: true, text: reply.text ?? "" };
        return {
          ok: false,
          code: RPC.TURN_FAILED,
          message: safeError(reply, timeoutSeconds),
          data: { outcome: reply.outcome },
        };
      } catch (error) {
        if (error instanceof BusyError) {
          ctx.state.lastOutcome = "busy";
          metrics.turns.inc({ outcome: "busy" });
          return {
            ok: false,
            code: RPC.BUSY,
            message: error.message,
            data: { busy: true, retry_after: 30, outcome: "busy" },
          };
        }
        if (error instanceof CancelledError) {
          metrics.turns.inc({ outcome: "cancelled" });
          return { ok: false, code: RPC.TURN_FAILED, message: error.message, data: { outcome: "cancelled" } };
        }
        log.error({ event: "turn.internal_error", err: errorText(error) }, "turn failed");
        return { ok: false, code: RPC.INTERNAL, message: "internal error" };
      }
    },
    cancel: (id) => scheduler.cancel(id),
  };
}
