import {
  activityData,
  activityMetadata,
  eventMetadata,
  historyOf,
  type Protocol,
  parseSendParams,
  parseTaskQuery,
  resultMetadata,
  withSequence,
} from "./protocol.js";
import {
  type TaskActivity,
  type TaskEvent,
  type TaskRecord,
  type TaskState,
  type TaskText,
  TERMINAL,
} from "./task-registry.js";

/** A2A v0.3 JSON (`kind` discriminators, lower-case roles and states). */
function message(task: TaskRecord, text: TaskText, role: "user" | "agent") {
  return {
    kind: "message" as const,
    role,
    messageId: text.messageId,
    taskId: task.id,
    contextId: task.contextId,
    parts: [{ kind: "text" as const, text: text.text }],
  };
}

function status(task: TaskRecord, state: TaskState = task.state) {
  const text = state === "completed" ? task.reply : task.note;
  return {
    state,
    ...(text ? { message: { ...message(task, text, "agent"), ...resultMetadata(task) } } : {}),
    timestamp: task.timestamp,
  };
}

/** An activity (tool call, result, thinking) as a `working` status update's message: one `data` part. */
function activityMessage(task: TaskRecord, activity: TaskActivity) {
  return {
    kind: "message" as const,
    role: "agent" as const,
    messageId: activity.messageId,
    taskId: task.id,
    contextId: task.contextId,
    parts: [{ kind: "data" as const, data: activityData(activity) }],
    metadata: activityMetadata(activity),
  };
}

function artifacts(task: TaskRecord) {
  return task.reply
    ? [{ artifactId: `${task.id}-reply`, name: "reply", parts: [{ kind: "text", text: task.reply.text }] }]
    : [];
}

function taskJson(task: TaskRecord, historyLength?: number) {
  const history = [message(task, task.user, "user")];
  if (task.reply) history.push(message(task, task.reply, "agent"));
  return {
    kind: "task" as const,
    id: task.id,
    contextId: task.contextId,
    status: status(task),
    history: historyOf(history, historyLength),
    artifacts: artifacts(task),
    ...resultMetadata(task),
  };
}

function statusUpdate(task: TaskRecord, event: TaskEvent, final: boolean) {
  const working = (message: unknown) => ({ state: "working" as const, message, timestamp: task.timestamp });
  return {
    kind: "status-update" as const,
    taskId: task.id,
    contextId: task.contextId,
    status:
      event.type === "progress"
        ? working(message(task, event.note, "agent"))
        : event.type === "activity"
          ? working(activityMessage(task, event.activity))
          : status(task),
    final,
    ...eventMetadata(task, event, final),
  };
}

function streamEvents(task: TaskRecord, event: TaskEvent): unknown[] {
  if (event.type !== "state" || !TERMINAL.has(event.state)) return [statusUpdate(task, event, false)];
  const events: unknown[] = [];
  if (task.state === "completed") {
    const [artifact] = artifacts(task);
    events.push({
      kind: "artifact-update",
      taskId: task.id,
      contextId: task.contextId,
      artifact,
      lastChunk: true,
      metadata: { sequence: event.sequence - 1 },
    });
  }
  events.push(statusUpdate(task, event, true));
  return events;
}

/** A2A v0.3: `message/send` answers a Message with `kind: "text"` parts (what the platform reads). */
export const protocolV03: Protocol = {
  version: "0.3",
  parseSend: (params) => parseSendParams(params, "0.3"),
  parseTaskQuery,
  sendResult: (task) => ({
    ...message(task, task.reply ?? { messageId: task.id, text: "" }, "agent"),
    ...resultMetadata(task),
  }),
  immediateResult: (task) => taskJson(task),
  task: taskJson,
  streamStart: (task) => withSequence(taskJson(task), task.sequence),
  streamEvents,
};
