import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { sendJson } from "../http-reply.js";
import type { Caller } from "./inbound-auth.js";
import { isRpcError, type Protocol, type SendRequest } from "./protocol.js";
import { protocolV1 } from "./protocol-v1.js";
import { protocolV03 } from "./protocol-v03.js";
import {
  Envelope,
  PUSH_NOT_SUPPORTED,
  RPC,
  type RpcError,
  type RpcId,
  type RpcResponse,
  rpcError,
  rpcResult,
  TASK_NOT_FOUND,
} from "./rpc.js";
import type { A2AService } from "./service.js";
import { streamTask } from "./sse.js";
import type { TaskRecord } from "./task-registry.js";

export { RPC, type RpcResponse } from "./rpc.js";
export type { A2AService } from "./service.js";

/**
 * What one JSON-RPC request comes to: a JSON answer, or a task to stream as SSE (`resubscribe`: a
 * snapshot of a task that may have ended, not the start of a new one).
 */
export type RpcAnswer =
  | { kind: "json"; response: RpcResponse }
  | { kind: "stream"; id: RpcId; protocol: Protocol; task: TaskRecord; resubscribe?: boolean };

type Kind = "send" | "stream" | "resubscribe" | "get" | "cancel" | "push";

/** Every method answered, by name: v0.3's and v1.0's, each in its own version's shapes. */
const METHODS: Record<string, { kind: Kind; protocol: Protocol }> = {
  "message/send": { kind: "send", protocol: protocolV03 },
  "message/stream": { kind: "stream", protocol: protocolV03 },
  "tasks/get": { kind: "get", protocol: protocolV03 },
  "tasks/cancel": { kind: "cancel", protocol: protocolV03 },
  "tasks/resubscribe": { kind: "resubscribe", protocol: protocolV03 },
  "tasks/pushNotificationConfig/set": { kind: "push", protocol: protocolV03 },
  "tasks/pushNotificationConfig/get": { kind: "push", protocol: protocolV03 },
  "tasks/pushNotificationConfig/list": { kind: "push", protocol: protocolV03 },
  "tasks/pushNotificationConfig/delete": { kind: "push", protocol: protocolV03 },
  SendMessage: { kind: "send", protocol: protocolV1 },
  SendStreamingMessage: { kind: "stream", protocol: protocolV1 },
  GetTask: { kind: "get", protocol: protocolV1 },
  CancelTask: { kind: "cancel", protocol: protocolV1 },
  SubscribeToTask: { kind: "resubscribe", protocol: protocolV1 },
  CreateTaskPushNotificationConfig: { kind: "push", protocol: protocolV1 },
  GetTaskPushNotificationConfig: { kind: "push", protocol: protocolV1 },
  ListTaskPushNotificationConfigs: { kind: "push", protocol: protocolV1 },
  DeleteTaskPushNotificationConfig: { kind: "push", protocol: protocolV1 },
};

const json = (response: RpcResponse): RpcAnswer => ({ kind: "json", response });

/**
 * A task is visible to the credential it was created with alone (`TaskRecord.owner`, kept with the
 * record, so a task restored at boot is still its creator's); with `a2a.auth: none` both are undefined.
 */
const visible = (task: TaskRecord | undefined, caller: Caller): task is TaskRecord =>
  task !== undefined && task.owner === caller;

const STREAMING_OFF: RpcError = {
  code: RPC.UNSUPPORTED_OPERATION,
  message: "Unsupported operation: streaming is turned off for this workspace (a2a.streaming: false)",
};

/** The caller each conversation (contextId) belongs to, with `bearer`: in memory, the newest kept. */
const contextOwners = new Map<string, string>();
const MAX_CONTEXT_OWNERS = 4096;

/**
 * With `bearer`, a conversation is its caller's too: a message without a contextId goes to the
 * caller's own default conversation (not the workspace's shared one), and a contextId another
 * credential started is refused. Undefined: refused. With `none` the request is left as it is.
 */
function ownContext(request: SendRequest, caller: Caller): SendRequest | undefined {
  if (caller === undefined) return request;
  const contextId =
    request.contextId ?? `caller-${createHash("sha256").update(`context:${caller}`).digest("hex").slice(0, 24)}`;
  const owner = contextOwners.get(contextId);
  if (owner !== undefined && owner !== caller) return undefined;
  contextOwners.delete(contextId);
  contextOwners.set(contextId, caller);
  if (contextOwners.size > MAX_CONTEXT_OWNERS) contextOwners.delete(contextOwners.keys().next().value as string);
  return { ...request, contextId, owner: caller };
}

/** The id of a request that is not a valid envelope, when it has a usable one. */
function looseId(raw: unknown): RpcId {
  const id = typeof raw === "object" && raw !== null && "id" in raw ? (raw as { id: unknown }).id : null;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/**
 * Handles one JSON-RPC request body (already read, ≤ 1 MiB) from `caller` (undefined with
 * `a2a.auth: none`). Another caller's task is "not found", whatever its id. Never throws. @internal
 */
export async function handleRpc(body: string, service: A2AService, caller?: Caller): Promise<RpcAnswer> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return json(rpcError(null, { code: RPC.PARSE_ERROR, message: "Parse error: the body is not valid JSON" }));
  }
  const envelope = Envelope.safeParse(raw);
  if (!envelope.success) {
    return json(
      rpcError(looseId(raw), {
        code: RPC.INVALID_REQUEST,
        message: "Invalid request: expected a JSON-RPC 2.0 object with a method",
      }),
    );
  }
  const id = envelope.data.id ?? null;
  const method = Object.hasOwn(METHODS, envelope.data.method) ? METHODS[envelope.data.method] : undefined;
  if (!method) {
    return json(
      rpcError(id, { code: RPC.METHOD_NOT_FOUND, message: `Method not found: ${envelope.data.method.slice(0, 64)}` }),
    );
  }
  const { kind, protocol } = method;
  const params = envelope.data.params;
  switch (kind) {
    case "send":
    case "stream": {
      if (kind === "stream" && !service.streaming) return json(rpcError(id, STREAMING_OFF));
      const parsed = protocol.parseSend(params);
      if (isRpcError(parsed)) return json(rpcError(id, parsed));
      const request = ownContext(parsed, caller);
      if (!request) {
        return json(
          rpcError(id, {
            code: RPC.INVALID_PARAMS,
            message: "Invalid params: this contextId belongs to another caller; send without one to start anew",
          }),
        );
      }
      const started = await service.start(request);
      if (!started.ok) return json(rpcError(id, started.error));
      const { task } = started;
      if (!visible(task, caller)) {
        // A repeated messageId answers its earlier task: never another caller's.
        return json(
          rpcError(id, { code: RPC.INVALID_PARAMS, message: "Invalid params: messageId already used; send a new one" }),
        );
      }
      if (kind === "stream") return { kind: "stream", id, protocol, task };
      if (!request.blocking) return json(rpcResult(id, protocol.immediateResult(task)));
      await service.ended(task.id);
      if (task.state === "completed") return json(rpcResult(id, protocol.sendResult(task)));
      return json(rpcError(id, task.error ?? { code: RPC.INTERNAL, message: "internal error" }));
    }
    case "get":
    case "cancel": {
      const query = protocol.parseTaskQuery(params);
      if (isRpcError(query)) return json(rpcError(id, query));
      if (!visible(service.get(query.id), caller)) return json(rpcError(id, TASK_NOT_FOUND));
      if (kind === "cancel") {
        const cancelled = service.cancel(query.id);
        return json(cancelled.ok ? rpcResult(id, protocol.task(cancelled.task)) : rpcError(id, cancelled.error));
      }
      const task = service.get(query.id);
      if (!visible(task, caller)) return json(rpcError(id, TASK_NOT_FOUND));
      return json(rpcResult(id, protocol.task(task, query.historyLength)));
    }
    case "resubscribe": {
      // The task's snapshot, then its live events and its end; an ended one's snapshot and the end at once.
      if (!service.streaming) return json(rpcError(id, STREAMING_OFF));
      const query = protocol.parseTaskQuery(params);
      if (isRpcError(query)) return json(rpcError(id, query));
      const task = service.get(query.id);
      if (!visible(task, caller)) return json(rpcError(id, TASK_NOT_FOUND));
      return { kind: "stream", id, protocol, task, resubscribe: true };
    }
    case "push":
      return json(rpcError(id, PUSH_NOT_SUPPORTED));
  }
}

/** Answers `POST /`: a JSON-RPC response, or an SSE stream for the streaming methods. @internal */
export async function answerRpc(
  res: ServerResponse,
  body: string,
  service: A2AService,
  caller?: Caller,
): Promise<void> {
  const answer = await handleRpc(body, service, caller);
  if (answer.kind === "json") sendJson(res, 200, answer.response);
  else streamTask(res, answer, service);
}
