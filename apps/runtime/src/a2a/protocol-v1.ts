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

/** A2A v1.0 JSON (the protobuf JSON mapping: payloads by name, `ROLE_*` and `TASK_STATE_*` enums). */
const STATE: Record<TaskState, string> = {
  submitted: "TASK_STATE_SUBMITTED",
  working: "TASK_STATE_WORKING",
  completed: "TASK_STATE_COMPLETED",
  failed: "TASK_STATE_FAILED",
  canceled: "TASK_STATE_CANCELED",
};

function message(task: TaskRecord, text: TaskText, role: "ROLE_USER" | "ROLE_AGENT") {
  return {
    messageId: text.messageId,
    contextId: task.contextId,
    taskId: task.id,
    role,
    parts: [{ text: text.text, mediaType: "text/plain" }],
  };
}

function status(task: TaskRecord, note?: TaskText) {
  const text = note ?? (task.state === "completed" ? task.reply : task.note);
  const meta = note ? {} : resultMetadata(task);
  return {
    state: note ? STATE.working : STATE[task.state],
    ...(text ? { message: { ...message(task, text, "ROLE_AGENT"), ...meta } } : {}),
    timestamp: task.timestamp,
  };
}

/** An activity (tool call, result, thinking) as a `working` status update's message: one `data` part. */
function activityStatus(task: TaskRecord, activity: TaskActivity) {
  return {
    state: STATE.working,
    message: {
      messageId: activity.messageId,
      contextId: task.contextId,
      taskId: task.id,
      role: "ROLE_AGENT",
      parts: [{ data: activityData(activity), mediaType: "application/json" }],
      metadata: activityMetadata(activity),
    },
    timestamp: task.timestamp,
  };
}

function artifacts(task: TaskRecord) {
  return task.reply
    ? [{ artifactId: `${task.id}-reply`, name: "reply", parts: [{ text: task.reply.text, mediaType: "text/plain" }] }]
    : [];
}

function taskJson(task: TaskRecord, historyLength?: number) {
  const history = [message(task, task.user, "ROLE_USER")];
  if (task.reply) history.push(message(task, task.reply, "ROLE_AGENT"));
  return {
    id: task.id,
    contextId: task.contextId,
    status: status(task),
    artifacts: artifacts(task),
    history: historyOf(history, historyLength),
    ...resultMetadata(task),
  };
}

function statusUpdate(task: TaskRecord, event: TaskEvent) {
  const final = event.type === "state" && TERMINAL.has(event.state);
  const current =
    event.type === "progress"
      ? status(task, event.note)
      : event.type === "activity"
        ? activityStatus(task, event.activity)
        : status(task);
  return {
    statusUpdate: { taskId: task.id, contextId: task.contextId, status: current, ...eventMetadata(task, event, final) },
  };
}

function streamEvents(task: TaskRecord, event: TaskEvent): unknown[] {
  if (event.type !== "state" || !TERMINAL.has(event.state)) return [statusUpdate(task, event)];
  const events: unknown[] = [];
  const [artifact] = artifacts(task);
  if (task.state === "completed" && artifact) {
    events.push({
      artifactUpdate: {
        taskId: task.id,
        contextId: task.contextId,
        artifact,
        lastChunk: true,
        metadata: { sequence: event.sequence - 1 },
      },
    });
  }
  events.push(statusUpdate(task, event)); // the stream ends after a terminal state (v1.0 has no `final` flag)
  return events;
}

/** A2A v1.0: `SendMessage` answers `{ message }`, `GetTask` / `CancelTask` a Task, streams `{ task | statusUpdate | artifactUpdate }`. */
export const protocolV1: Protocol = {
  version: "1.0",
  parseSend: (params) => parseSendParams(params, "1.0"),
  parseTaskQuery,
  sendResult: (task) => ({
    message: {
      ...message(task, task.reply ?? { messageId: task.id, text: "" }, "ROLE_AGENT"),
      ...resultMetadata(task),
    },
  }),
  immediateResult: (task) => ({ task: taskJson(task) }),
  task: taskJson,
  streamStart: (task) => ({ task: withSequence(taskJson(task), task.sequence) }),
  streamEvents,
};
