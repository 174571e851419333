import { randomUUID } from "node:crypto";
import type { TurnUsage } from "../executor.js";
import type { RpcError } from "./rpc.js";

/** The task states the daemon uses (A2A's, in v0.3 spelling; each protocol renders its own). */
export type TaskState = "submitted" | "working" | "completed" | "failed" | "canceled";

export const TERMINAL: ReadonlySet<TaskState> = new Set(["completed", "failed", "canceled"]);

/** One text message of a task: the user's, the agent's reply, a progress note or a failure. */
export interface TaskText {
  readonly messageId: string;
  readonly text: string;
}

/** A turn as A2A sees it: one user message, one conversation (context), one outcome. */
export interface TaskRecord {
  readonly id: string;
  readonly contextId: string;
  readonly user: TaskText;
  state: TaskState;
  /** The agent's answer (completed). */
  reply?: TaskText;
  /** What the status says now: the latest progress note while working, the safe error text when failed. */
  note?: TaskText;
  /** For failed / canceled: the JSON-RPC error a blocking `message/send` answers with. */
  error?: RpcError;
  /** For completed: the model's token usage, when the agent reported it (the result's `metadata.usage`). */
  usage?: TurnUsage;
  /** ISO time of the last state change. */
  timestamp: string;
  /** ISO time the task was created. */
  readonly createdAt: string;
  /** The credential digest that created it (`a2a.auth: bearer`); undefined with `none`. */
  owner?: string;
  /**
   * The number of the task's latest event (0 before the first): every event a subscriber hears
   * carries the next one, and a stream's snapshot carries the current one, so a client that
   * resubscribes can tell what it missed and what it already has.
   */
  sequence: number;
}

/** One thing the agent did (a tool call, its result, thinking), bounded and masked: a stream's `data` part. */
export interface TaskActivity {
  readonly messageId: string;
  readonly kind: "tool_call" | "tool_result" | "thinking";
  /** The tool's name (tool calls; tool results when the agent names it). */
  readonly tool?: string;
  /** The agent's id of the call, which links a result to its call. */
  readonly id?: string;
  /** The input (call), output (result) or text (thinking): bounded and secret-masked. */
  readonly summary: string;
  /** A tool result that reports a failure. */
  readonly error?: boolean;
}

/** What subscribers hear: a progress note or an activity while working, a state change, the end. Each carries its `sequence`. */
export type TaskEvent =
  | { type: "progress"; note: TaskText; sequence: number }
  | { type: "activity"; activity: TaskActivity; sequence: number }
  | { type: "state"; state: TaskState; sequence: number };

/**
 * How many ended tasks `tasks/get` still knows (running and queued ones are always kept); a send that
 * repeats one of their `messageId`s in the same context is answered with that task.
 */
export const RECENT_TASKS = 100;

/** The key of a user message in a context (`messageId`s are the caller's: unique per context, not globally). */
const messageKey = (contextId: string, messageId: string) => JSON.stringify([contextId, messageId]);

export interface TaskRegistryOptions {
  /** How many ended tasks are kept (default {@link RECENT_TASKS}); running and queued ones always are. */
  max?: number;
  now?: () => number;
  /**
   * Called when a task is created and on each of its state changes (not on progress notes or
   * activities, which are not kept): the task records (`task-store.ts`) queue it for the disk.
   */
  onChange?: (task: TaskRecord) => void;
}

/**
 * The recent tasks: what `tasks/get` answers, what a stream follows, what a blocking send waits
 * for, and which task a user message (context and `messageId`) started. Bounded: beyond `max` the
 * oldest ended tasks are forgotten. In memory; `onChange` and `restore` let the task records keep
 * them across a restart. @internal
 */
export function createTaskRegistry(options: TaskRegistryOptions = {}) {
  const max = options.max ?? RECENT_TASKS;
  const now = options.now ?? Date.now;
  const changed = options.onChange ?? (() => undefined);
  const records = new Map<string, TaskRecord>();
  const listeners = new Map<string, Set<(event: TaskEvent) => void>>();
  const ends = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** The latest task each user message started, by `messageKey`. */
  const byMessage = new Map<string, string>();
  const iso = () => new Date(now()).toISOString();

  type Unsequenced = TaskEvent extends infer E ? (E extends TaskEvent ? Omit<E, "sequence"> : never) : never;
  function emit(task: TaskRecord, event: Unsequenced) {
    task.sequence += 1;
    const sequenced = { ...event, sequence: task.sequence } as TaskEvent;
    for (const listener of [...(listeners.get(task.id) ?? [])]) listener(sequenced);
  }

  function evict() {
    for (const [id, task] of records) {
      if (records.size <= max) return;
      if (!TERMINAL.has(task.state)) continue;
      records.delete(id);
      listeners.delete(id);
      ends.delete(id);
      const key = messageKey(task.contextId, task.user.messageId);
      if (byMessage.get(key) === id) byMessage.delete(key);
    }
  }

  return {
    has: (id: string) => records.has(id),
    get: (id: string) => records.get(id),
    /** Every task it holds, oldest first (what the task records keep when they compact). */
    list: (): TaskRecord[] => [...records.values()],

    /**
     * At boot, the tasks the records file kept (oldest first; a running one there was already marked
     * failed): `tasks/get` answers them, a repeated send finds its task, `ended` resolves at once.
     * Not reported to `onChange` (they are on disk); the eviction rules apply.
     */
    restore(restored: Iterable<TaskRecord>) {
      for (const task of restored) {
        records.delete(task.id);
        records.set(task.id, task);
        byMessage.set(messageKey(task.contextId, task.user.messageId), task.id);
        ends.delete(task.id);
        if (!TERMINAL.has(task.state)) {
          let resolve = () => {};
          const promise = new Promise<void>((r) => {
            resolve = r;
          });
          ends.set(task.id, { promise, resolve });
        }
      }
      evict();
    },

    /** The latest task the user message `messageId` started in `contextId`, while it is remembered. */
    findByMessage(contextId: string, messageId: string): TaskRecord | undefined {
      const id = byMessage.get(messageKey(contextId, messageId));
      return id === undefined ? undefined : records.get(id);
    },

    create(input: { id: string; contextId: string; text: string; messageId: string; owner?: string }): TaskRecord {
      const at = iso();
      const task: TaskRecord = {
        id: input.id,
        contextId: input.contextId,
        user: { messageId: input.messageId, text: input.text },
        state: "submitted",
        timestamp: at,
        createdAt: at,
        sequence: 0,
        ...(input.owner !== undefined ? { owner: input.owner } : {}),
      };
      records.set(task.id, task);
      byMessage.set(messageKey(task.contextId, task.user.messageId), task.id);
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      ends.set(task.id, { promise, resolve });
      changed(task);
      evict();
      return task;
    },

    /** Moves a task on; a task that ended stays as it ended (a cancel wins over a late result). */
    transition(id: string, state: TaskState, detail: { reply?: string; error?: RpcError; usage?: TurnUsage } = {}) {
      const task = records.get(id);
      if (!task || TERMINAL.has(task.state)) return;
      task.state = state;
      task.timestamp = iso();
      if (detail.reply !== undefined) task.reply = { messageId: randomUUID(), text: detail.reply };
      if (detail.usage) task.usage = { ...detail.usage };
      if (detail.error) {
        task.error = detail.error;
        task.note = { messageId: randomUUID(), text: detail.error.message };
      }
      // A completed task's end is two stream events (the reply's artifact, then the final status): one number each.
      if (state === "completed") task.sequence += 1;
      emit(task, { type: "state", state });
      changed(task);
      if (TERMINAL.has(state)) {
        ends.get(id)?.resolve();
        listeners.delete(id);
        evict();
      }
    },

    progress(id: string, text: string) {
      const task = records.get(id);
      if (!task || TERMINAL.has(task.state)) return;
      task.note = { messageId: randomUUID(), text };
      task.timestamp = iso();
      emit(task, { type: "progress", note: task.note });
    },

    /** Tells subscribers what the agent did (not kept: `tasks/get` shows the latest note only). */
    activity(id: string, activity: Omit<TaskActivity, "messageId">) {
      const task = records.get(id);
      if (!task || TERMINAL.has(task.state)) return;
      task.timestamp = iso();
      emit(task, { type: "activity", activity: { messageId: randomUUID(), ...activity } });
    },

    /** Resolves when the task has ended (at once for an ended or unknown one). */
    ended: (id: string): Promise<void> => ends.get(id)?.promise ?? Promise.resolve(),

    /** Hears the task's events until it ends; returns the unsubscribe. */
    subscribe(id: string, listener: (event: TaskEvent) => void): () => void {
      let set = listeners.get(id);
      if (!set) {
        set = new Set();
        listeners.set(id, set);
      }
      set.add(listener);
      return () => listeners.get(id)?.delete(listener);
    },
  };
}

export type TaskRegistry = ReturnType<typeof createTaskRegistry>;
