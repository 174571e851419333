import type { ServerResponse } from "node:http";
import type { Protocol } from "./protocol.js";
import type { RpcId } from "./rpc.js";
import type { A2AService } from "./service.js";
import { type TaskEvent, type TaskRecord, TERMINAL } from "./task-registry.js";

/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

/**
 * Streams one task as Server-Sent Events: the task at once (state `working`, or `submitted` while it
 * waits for its context), a status update per progress note, then the final events; each `data:`
 * is a JSON-RPC response with the request's id. A client that goes away only stops listening: the
 * turn goes on (`tasks/cancel` cancels it). @internal
 */
export function streamTask(
  res: ServerResponse,
  stream: { id: RpcId; protocol: Protocol; task: TaskRecord },
  service: A2AService,
) {
  const { id, protocol, task } = stream;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const write = (result: unknown) => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify({ jsonrpc: "2.0", id, result })}\n\n`);
  };
  let off = () => {};
  const keepAlive = setInterval(() => {
    if (!res.writableEnded && !res.destroyed) res.write(": keep-alive\n\n");
  }, KEEP_ALIVE_MS);
  keepAlive.unref();
  const close = () => {
    off();
    clearInterval(keepAlive);
  };
  const onEvent = (event: TaskEvent) => {
    for (const result of protocol.streamEvents(task, event)) write(result);
    if (event.type === "state" && TERMINAL.has(event.state)) {
      close();
      res.end();
    }
  };
  res.on("close", close);
  off = service.subscribe(task.id, onEvent);
  // The task as it started (a turn may already have ended by now: its end follows at once).
  const { reply: _reply, note: _note, error: _error, ...started } = task;
  write(protocol.streamStart(TERMINAL.has(task.state) ? { ...started, state: "working" } : task));
  if (TERMINAL.has(task.state)) onEvent({ type: "state", state: task.state });
}
