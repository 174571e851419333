import * as z from "zod";

/** JSON-RPC 2.0 and A2A error codes the daemon answers with. */
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
  /** A2A TaskNotCancelableError: the task already ended. */
  TASK_NOT_CANCELABLE: -32002,
  /** A2A PushNotificationNotSupportedError. */
  PUSH_NOT_SUPPORTED: -32003,
  /** A2A UnsupportedOperationError (e.g. streaming while `a2a.streaming` is false). */
  UNSUPPORTED_OPERATION: -32004,
  /** Busy: the queue is full; `data.retry_after` seconds. */
  BUSY: -32010,
} as const;

export type RpcId = string | number | null;

export interface RpcError {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export interface RpcResponse {
  jsonrpc: "2.0";
  id: RpcId;
  result?: unknown;
  error?: RpcError;
}

export const Envelope = z.object({
  jsonrpc: z.literal("2.0"),
  id: z.union([z.string(), z.number(), z.null()]).optional(),
  method: z.string().min(1),
  params: z.unknown().optional(),
});

export function rpcError(id: RpcId, error: RpcError): RpcResponse {
  return { jsonrpc: "2.0", id, error };
}

export function rpcResult(id: RpcId, result: unknown): RpcResponse {
  return { jsonrpc: "2.0", id, result };
}

export const invalidParams = (message: string): RpcError => ({ code: RPC.INVALID_PARAMS, message });

/** `tasks/get`, `tasks/cancel` (and their v1.0 names) for an id the registry does not know. */
export const TASK_NOT_FOUND: RpcError = { code: RPC.TASK_NOT_FOUND, message: "Task not found (or forgotten)" };

/** The push-notification methods, and a send that asks for push notifications. */
export const PUSH_NOT_SUPPORTED: RpcError = {
  code: RPC.PUSH_NOT_SUPPORTED,
  message: "Push notifications are not supported by this agent",
};
