import { randomUUID } from "node:crypto";
import * as z from "zod";

/** JSON-RPC 2.0 error codes the daemon answers with. */
export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  /** The agent's turn failed; `data.outcome` says how. */
  TURN_FAILED: -32000,
  /** A2A TaskNotFoundError. */
  TASK_NOT_FOUND: -32001,
  /** Busy: the queue is full; `data.retry_after` seconds. */
  BUSY: -32010,
} as const;

const Part = z.looseObject({
  kind: z.string().optional(),
  text: z.string().optional(),
});

const Message = z.looseObject({
  role: z.string().optional(),
  messageId: z.string().optional(),
  taskId: z.string().optional(),
  contextId: z.string().optional(),
  parts: z.array(Part).min(1),
});

const SendParams = z.looseObject({ message: Message });
const CancelParams = z.looseObject({ id: z.string().min(1) }).optional();

const Envelope = z.object({
  jsonrpc: z.literal("2.0"),
  id: z.union([z.string(), z.number(), z.null()]).optional(),
  method: z.string().min(1),
  params: z.unknown().optional(),
});

export type SendOutcome =
  | { ok: true; text: string }
  | { ok: false; code: number; message: string; data?: Record<string, unknown> };

export interface A2AHandler {
  send(input: { taskId: string; text: string; contextId?: string }): Promise<SendOutcome>;
  /** Cancels a queued or running task (no id: the running one). */
  cancel(id: string | undefined): boolean;
}

type RpcId = string | number | null;

export interface RpcResponse {
  jsonrpc: "2.0";
  id: RpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

function error(id: RpcId, code: number, message: string, data?: unknown): RpcResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

/** An A2A v0.3 message with `kind: "text"` parts (the platform reads `result.parts[].text`). */
export function agentMessage(text: string, taskId: string, contextId?: string) {
  return {
    kind: "message" as const,
    role: "agent" as const,
    messageId: randomUUID(),
    taskId,
    ...(contextId ? { contextId } : {}),
    parts: [{ kind: "text" as const, text }],
  };
}

/** Handles one JSON-RPC request body (already read, ≤ 1 MiB). Never throws. @internal */
export async function handleRpc(body: string, handler: A2AHandler): Promise<RpcResponse> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return error(null, RPC.PARSE_ERROR, "Parse error: the body is not valid JSON");
  }
  const envelope = Envelope.safeParse(raw);
  if (!envelope.success) {
    const id = typeof raw === "object" && raw !== null && "id" in raw ? (raw as { id: unknown }).id : null;
    const safeId = typeof id === "string" || typeof id === "number" ? id : null;
    return error(safeId, RPC.INVALID_REQUEST, "Invalid request: expected a JSON-RPC 2.0 object with a method");
  }
  const id = envelope.data.id ?? null;
  switch (envelope.data.method) {
    case "message/send":
    case "SendMessage": {
      const params = SendParams.safeParse(envelope.data.params);
      if (!params.success) {
        return error(id, RPC.INVALID_PARAMS, "Invalid params: expected params.message with at least one part");
      }
      const message = params.data.message;
      const text = message.parts
        .filter((p) => typeof p.text === "string" && (p.kind === undefined || p.kind === "text"))
        .map((p) => p.text)
        .join("\n")
        .trim();
      if (!text) return error(id, RPC.INVALID_PARAMS, "Invalid params: the message has no text part");
      const taskId = message.taskId ?? message.messageId ?? randomUUID();
      const outcome = await handler.send({
        taskId,
        text,
        ...(message.contextId ? { contextId: message.contextId } : {}),
      });
      if (!outcome.ok) return error(id, outcome.code, outcome.message, outcome.data);
      return { jsonrpc: "2.0", id, result: agentMessage(outcome.text, taskId, message.contextId) };
    }
    case "tasks/cancel":
    case "CancelTask": {
      const params = CancelParams.safeParse(envelope.data.params);
      if (!params.success) return error(id, RPC.INVALID_PARAMS, "Invalid params: expected params.id");
      const cancelled = handler.cancel(params.data?.id);
      if (!cancelled) return error(id, RPC.TASK_NOT_FOUND, "Task not found (or already finished)");
      return { jsonrpc: "2.0", id, result: { id: params.data?.id ?? null, status: { state: "canceled" } } };
    }
    default:
      return error(id, RPC.METHOD_NOT_FOUND, `Method not found: ${envelope.data.method.slice(0, 64)}`);
  }
}
