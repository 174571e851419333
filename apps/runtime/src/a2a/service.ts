import { randomUUID } from "node:crypto";
import { errorText } from "../errors.js";
import { safeError, type TurnReply } from "../executor.js";
import type { Logger } from "../logger.js";
import { BusyError, CancelledError, type Scheduler } from "../scheduler.js";
import type { TurnRunner } from "../turns.js";
import type { Conversations } from "./contexts.js";
import type { SendRequest } from "./protocol.js";
import { RPC, type RpcError, TASK_NOT_FOUND } from "./rpc.js";
import { createTaskRegistry, type TaskEvent, type TaskRecord, type TaskRegistry, TERMINAL } from "./task-registry.js";

export type Started = { ok: true; task: TaskRecord } | { ok: false; error: RpcError };

/** The A2A side of turns, for both protocol versions. @internal */
export interface A2AService {
  /** `a2a.streaming` from the config: the stream methods answer only when it is true. */
  readonly streaming: boolean;
  /**
   * Admits (or refuses as busy), records the task and schedules its turn in its context; a repeated
   * message (same context and `messageId`) answers the task it started instead, even while busy.
   */
  start(request: SendRequest): Promise<Started>;
  get(id: string): TaskRecord | undefined;
  cancel(id: string): { ok: true; task: TaskRecord } | { ok: false; error: RpcError };
  /** Resolves when the task has ended. */
  ended(id: string): Promise<void>;
  subscribe(id: string, listener: (event: TaskEvent) => void): () => void;
}

/** What the A2A service uses, and nothing more. @internal */
export interface A2AServiceOptions {
  /** Runs each turn and does all turn accounting (outcome, metrics, tracker). */
  turns: Pick<TurnRunner, "run" | "notRun">;
  scheduler: Pick<Scheduler, "accepts" | "submit" | "cancel">;
  /** The A2A contexts (conversations) and their sessions. */
  conversations: Pick<Conversations, "defaultId" | "sessionFor">;
  log: Logger;
  /** `runtime_config.timeout` (seconds), named in a timed-out turn's error. */
  timeoutSeconds: number;
  /** `a2a.streaming` from the config. */
  streaming: boolean;
  /** `a2a.stream_thinking` from the config: thinking text is streamed only when true. */
  streamThinking?: boolean;
  /** Whether shutdown has begun (a busy refusal then says so). */
  draining(): boolean;
  /** The task registry (the daemon's keeps its tasks across restarts: `task-store.ts`); default: a memory-only one. */
  tasks?: TaskRegistry;
}

const BUSY_DATA = { busy: true, retry_after: 30, outcome: "busy" };
const CANCELLED: RpcError = {
  code: RPC.TURN_FAILED,
  message: "the turn was cancelled",
  data: { outcome: "cancelled" },
};

/**
 * Each message becomes a task in a context (the caller's `contextId`, or the workspace's default
 * one) and a turn scheduled under that context's key: one turn per context at a time, in arrival
 * order; busy, cancelled and failed turns become JSON-RPC errors as before. A send that repeats a
 * remembered message (see `sameMessage`) answers its task instead of running the agent again. @internal
 */
export function createA2AService(options: A2AServiceOptions): A2AService {
  const { turns, scheduler, conversations, log, timeoutSeconds } = options;
  const taskRegistry = options.tasks ?? createTaskRegistry();

  function finish(task: TaskRecord, reply: TurnReply) {
    if (reply.outcome === "ok") {
      taskRegistry.transition(task.id, "completed", {
        reply: reply.text ?? "",
        ...(reply.usage ? { usage: reply.usage } : {}),
      });
      return;
    }
    const error: RpcError = {
      code: RPC.TURN_FAILED,
      message: safeError(reply, timeoutSeconds),
      data: { outcome: reply.outcome },
    };
    taskRegistry.transition(task.id, reply.outcome === "cancelled" ? "canceled" : "failed", { error });
  }

  function fail(task: TaskRecord, error: unknown) {
    if (error instanceof BusyError) {
      // Admitted, then refused: shutdown closed the queue before the turn started.
      turns.notRun("busy");
      taskRegistry.transition(task.id, "failed", {
        error: { code: RPC.BUSY, message: error.message, data: BUSY_DATA },
      });
      return;
    }
    if (error instanceof CancelledError) {
      turns.notRun("cancelled");
      taskRegistry.transition(task.id, "canceled", { error: { ...CANCELLED, message: error.message } });
      return;
    }
    log.error({ event: "turn.internal_error", taskId: task.id, err: errorText(error) }, "turn failed");
    taskRegistry.transition(task.id, "failed", { error: { code: RPC.INTERNAL, message: "internal error" } });
  }

  /**
   * The task a repeated send already started: same context, same `messageId`, same text, and (if
   * the send names one) the same taskId, among the remembered tasks. One that failed or was
   * canceled is not answered again: sending its message again is a new attempt.
   */
  function sameMessage(request: SendRequest, contextId: string): TaskRecord | undefined {
    if (request.messageId === undefined) return undefined;
    const task = taskRegistry.findByMessage(contextId, request.messageId);
    if (!task || task.user.text !== request.text) return undefined;
    if (request.taskId !== undefined && request.taskId !== task.id) return undefined;
    return task.state === "failed" || task.state === "canceled" ? undefined : task;
  }

  return {
    streaming: options.streaming,

    async start(request) {
      const defaultId = await conversations.defaultId();
      const contextId = request.contextId ?? defaultId;
      const earlier = sameMessage(request, contextId);
      if (earlier) {
        // A retry (e.g. after a dropped connection): the caller follows the task it already started.
        log.info(
          { event: "a2a.send_repeated", taskId: earlier.id, contextId, state: earlier.state },
          "a repeated messageId answers its earlier task; the agent does not run again",
        );
        return { ok: true, task: earlier };
      }
      if (request.taskId !== undefined && taskRegistry.has(request.taskId)) {
        return {
          ok: false,
          error: {
            code: RPC.INVALID_PARAMS,
            message: `Invalid params: task ${request.taskId.slice(0, 64)} already exists; send a new message (without taskId) in its contextId to continue the conversation`,
          },
        };
      }
      const id =
        request.taskId ??
        (request.messageId && !taskRegistry.has(request.messageId) ? request.messageId : randomUUID());
      if (!scheduler.accepts(contextId)) {
        turns.notRun("busy");
        return {
          ok: false,
          error: {
            code: RPC.BUSY,
            message: new BusyError({ shuttingDown: options.draining() }).message,
            data: BUSY_DATA,
          },
        };
      }
      const task = taskRegistry.create({
        id,
        contextId,
        text: request.text,
        messageId: request.messageId ?? randomUUID(),
        ...(request.owner !== undefined ? { owner: request.owner } : {}),
      });
      const session = conversations.sessionFor(contextId, defaultId);
      scheduler
        .submit({
          id,
          key: contextId,
          run: (signal) => {
            taskRegistry.transition(id, "working");
            return turns.run({
              taskId: id,
              text: request.text,
              signal,
              contextId,
              ...(session ? { session } : {}),
              onProgress: (note) => taskRegistry.progress(id, note),
              onActivity: (activity) => {
                if (activity.kind !== "thinking" || options.streamThinking) taskRegistry.activity(id, activity);
              },
            });
          },
        })
        .then(
          (reply) => finish(task, reply),
          (error: unknown) => fail(task, error),
        );
      return { ok: true, task };
    },

    get: (id) => taskRegistry.get(id),

    cancel(id) {
      const task = taskRegistry.get(id);
      if (!task) return { ok: false, error: TASK_NOT_FOUND };
      if (TERMINAL.has(task.state)) {
        return {
          ok: false,
          error: {
            code: RPC.TASK_NOT_CANCELABLE,
            message: `Task cannot be canceled: it has already ${task.state === "canceled" ? "been canceled" : task.state}`,
          },
        };
      }
      scheduler.cancel(id);
      // Canceled from now on, whatever the agent still does before its process group is gone.
      taskRegistry.transition(id, "canceled", { error: CANCELLED });
      return { ok: true, task };
    },

    ended: (id) => taskRegistry.ended(id),
    subscribe: (id, listener) => taskRegistry.subscribe(id, listener),
  };
}
