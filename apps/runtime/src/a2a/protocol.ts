import * as z from "zod";
import { invalidParams, PUSH_NOT_SUPPORTED, type RpcError } from "./rpc.js";
import type { TaskActivity, TaskEvent, TaskRecord } from "./task-registry.js";

/** The longest contextId a caller may choose (it names a conversation; it is kept in the state dir). */
export const MAX_CONTEXT_ID = 256;

/** A send (`message/send`, `SendMessage`, their streaming forms), whatever the version. */
export interface SendRequest {
  text: string;
  messageId: string | undefined;
  contextId: string | undefined;
  taskId: string | undefined;
  /** false: answer with the task at once (v0.3 `blocking: false`, v1.0 `returnImmediately: true`). */
  blocking: boolean;
  historyLength: number | undefined;
  /** The caller's credential digest (`a2a.auth: bearer`), set by the server, never parsed: the task's owner. */
  owner?: string;
}

export interface TaskQuery {
  id: string;
  historyLength: number | undefined;
}

/** One protocol version's shapes: what it reads and how it renders tasks, messages and events. */
export interface Protocol {
  readonly version: "0.3" | "1.0";
  parseSend(params: unknown): SendRequest | RpcError;
  parseTaskQuery(params: unknown): TaskQuery | RpcError;
  /** A blocking send that completed. */
  sendResult(task: TaskRecord): unknown;
  /** A non-blocking send: the task as it is now. */
  immediateResult(task: TaskRecord): unknown;
  /** `tasks/get`, `tasks/cancel` and their v1.0 names. */
  task(task: TaskRecord, historyLength?: number): unknown;
  /**
   * A stream's first event: the task (v0.3 `kind: "task"`, v1.0 `{ task }`) with `metadata.sequence`
   * (the task's `sequence`), for `message/stream` and as the snapshot `tasks/resubscribe` starts with.
   */
  streamStart(task: TaskRecord): unknown;
  /** The stream events for one task event (the last ones of a task that ended). */
  streamEvents(task: TaskRecord, event: TaskEvent): unknown[];
}

const Part = z.looseObject({ kind: z.string().optional(), text: z.unknown().optional() });
const Message = z.looseObject({
  messageId: z.string().optional(),
  taskId: z.string().optional(),
  contextId: z.string().max(MAX_CONTEXT_ID).optional(),
  parts: z.array(Part).min(1),
});
const HistoryLength = z.number().int().min(0).optional();
const Configuration = z
  .looseObject({
    blocking: z.boolean().optional(),
    returnImmediately: z.boolean().optional(),
    historyLength: HistoryLength,
    pushNotificationConfig: z.unknown().optional(),
    taskPushNotificationConfig: z.unknown().optional(),
  })
  .optional();
const SendParams = z.looseObject({ message: Message, configuration: Configuration });
const QueryParams = z.looseObject({ id: z.string().min(1), historyLength: HistoryLength });

/** The text of a message: its text parts (v0.3 `kind: "text"` or v1.0 `{ text }`), joined. */
function textOf(parts: ReadonlyArray<z.infer<typeof Part>>): string {
  return parts
    .filter((p) => typeof p.text === "string" && (p.kind === undefined || p.kind === "text"))
    .map((p) => String(p.text))
    .join("\n")
    .trim();
}

/** Parses send params of either version (callers mix them); `blocking` is read per version. @internal */
export function parseSendParams(params: unknown, version: "0.3" | "1.0"): SendRequest | RpcError {
  const parsed = SendParams.safeParse(params);
  if (!parsed.success) {
    const contextTooLong = parsed.error.issues.some((i) => i.path.join(".") === "message.contextId");
    return invalidParams(
      contextTooLong
        ? `Invalid params: message.contextId must be a string of at most ${MAX_CONTEXT_ID} characters`
        : "Invalid params: expected params.message with at least one part",
    );
  }
  const { message, configuration } = parsed.data;
  if (configuration?.pushNotificationConfig !== undefined || configuration?.taskPushNotificationConfig !== undefined) {
    return PUSH_NOT_SUPPORTED;
  }
  const text = textOf(message.parts);
  if (!text) return invalidParams("Invalid params: the message has no text part");
  return {
    text,
    messageId: message.messageId || undefined,
    contextId: message.contextId || undefined,
    taskId: message.taskId || undefined,
    blocking: version === "0.3" ? configuration?.blocking !== false : configuration?.returnImmediately !== true,
    historyLength: configuration?.historyLength,
  };
}

/** Parses `{ id, historyLength? }` (tasks/get, tasks/cancel and their v1.0 names). @internal */
export function parseTaskQuery(params: unknown): TaskQuery | RpcError {
  const parsed = QueryParams.safeParse(params);
  if (!parsed.success) return invalidParams("Invalid params: expected params.id (a task id)");
  return { id: parsed.data.id, historyLength: parsed.data.historyLength };
}

export function isRpcError(value: unknown): value is RpcError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value && !("text" in value);
}

/**
 * A task's `metadata`, spread into the task, its last status update and a blocking send's answer: a
 * failed or canceled task's outcome and error code, or a completed task's `usage` (`input_tokens`,
 * `output_tokens`) when its agent reported one.
 */
export function resultMetadata(task: TaskRecord): { metadata?: Record<string, unknown> } {
  if (task.error) return errorMetadata(task);
  return task.usage ? { metadata: { usage: usageJson(task) } } : {};
}

/** What `metadata.usage` says: the agent's own figures, labelled as its estimate (`source: "agent-estimate"`). */
export function usageJson(task: TaskRecord): Record<string, unknown> | undefined {
  return task.usage ? { ...task.usage, source: "agent-estimate" } : undefined;
}

/** A stream event's `metadata`: what it is about and its `sequence` (plus the result's metadata on the last one). */
export function eventMetadata(
  task: TaskRecord,
  event: TaskEvent,
  final: boolean,
): { metadata: Record<string, unknown> } {
  const activity = event.type === "activity" ? activityMetadata(event.activity) : {};
  return { metadata: { ...(final ? resultMetadata(task).metadata : {}), ...activity, sequence: event.sequence } };
}

/** A task's JSON with its `sequence` (the number of its latest event) in its `metadata`: a stream's first event. */
export function withSequence<T extends { metadata?: Record<string, unknown> }>(task: T, sequence: number) {
  return { ...task, metadata: { ...task.metadata, sequence } };
}

/** The `data` part of an activity event (kind, tool, id, bounded summary, error). */
export function activityData(activity: TaskActivity): Record<string, unknown> {
  const { messageId: _messageId, ...data } = activity;
  return data;
}

/** What an activity event's metadata names: its kind (`tool_call`, `tool_result`, `thinking`) and tool. */
export function activityMetadata(activity: TaskActivity): Record<string, unknown> {
  return { kind: activity.kind, ...(activity.tool !== undefined ? { tool: activity.tool } : {}) };
}

/** A failed or canceled task's `metadata` (its outcome and error code), spread into the task and its last status update. */
export function errorMetadata(task: TaskRecord): { metadata?: { outcome: unknown; code: number } } {
  return task.error ? { metadata: { outcome: task.error.data?.outcome, code: task.error.code } } : {};
}

/** The messages of a task, oldest first, cut to the last `historyLength` (A2A: 0 = none). */
export function historyOf<T>(messages: T[], historyLength: number | undefined): T[] {
  if (historyLength === undefined) return messages;
  return historyLength === 0 ? [] : messages.slice(-historyLength);
}
