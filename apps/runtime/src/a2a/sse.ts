import type { ServerResponse } from "node:http";
import type { Protocol } from "./protocol.js";
import type { RpcId } from "./rpc.js";
import type { A2AService } from "./service.js";
import { type TaskEvent, type TaskRecord, TERMINAL } from "./task-registry.js";

/** A comment line this often keeps proxies and idle timeouts from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

/**
 * The most one stream may hold unsent (bytes the client has not read yet, beyond what the kernel's
 * socket buffers took): a client that stops reading is disconnected once this is full, so a stream
 * holds at most this plus the one event being written.
 */
export const STREAM_BUFFER_BYTES = 1024 * 1024;

/**
 * After its last event a stream has this long to reach the client (the reply may be large), else it
 * is closed: a client that never reads cannot hold the final events forever.
 */
export const FINAL_FLUSH_MS = 60_000;

/** Free-text progress notes go out at most once per this (the latest note wins): 4 a second. */
export const PROGRESS_INTERVAL_MS = 250;

/** Tuning for tests; the daemon uses the defaults above. @internal */
export interface StreamLimits {
  bufferBytes?: number;
  progressIntervalMs?: number;
  finalFlushMs?: number;
  now?: () => number;
}

/**
 * Streams one task as Server-Sent Events: the task at once (state `working`, or `submitted` while it
 * waits for its context), status updates for its progress notes and activities, then the final
 * events; each `data:` is a JSON-RPC response with the request's id, each event carries its
 * `metadata.sequence` (increasing; a coalesced note leaves a gap). With `resubscribe` the first event
 * is the task as it is now (its `metadata.sequence` is the latest event it reflects), then the events
 * after it; a task that has ended is its snapshot and the end at once. Progress notes are coalesced
 * (at most one per PROGRESS_INTERVAL_MS, the latest wins); state events are never dropped. Each
 * stream has its own buffer: a client that goes away, or stops reading until STREAM_BUFFER_BYTES are
 * waiting, is only disconnected, and delays no other stream of the task: the turn goes on
 * (`tasks/get` fetches it, `tasks/resubscribe` follows it again, `tasks/cancel` cancels it). @internal
 */
export function streamTask(
  res: ServerResponse,
  stream: { id: RpcId; protocol: Protocol; task: TaskRecord; resubscribe?: boolean },
  service: A2AService,
  limits: StreamLimits = {},
) {
  const { id, protocol, task } = stream;
  const bufferBytes = limits.bufferBytes ?? STREAM_BUFFER_BYTES;
  const intervalMs = limits.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  const now = limits.now ?? Date.now;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-store",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  let off = () => {};
  let pending: TaskEvent | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  let lastProgressAt = Number.NEGATIVE_INFINITY;
  const keepAlive = setInterval(() => send(": keep-alive\n\n"), KEEP_ALIVE_MS);
  keepAlive.unref();
  const close = () => {
    off();
    clearInterval(keepAlive);
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    pending = undefined;
  };
  /**
   * Writes a frame, or disconnects a client that has let the buffer fill (it stopped reading). The
   * final events always go out (the reply is one of them): FINAL_FLUSH_MS bounds how long they may wait.
   */
  function send(frame: string, final = false) {
    if (res.writableEnded || res.destroyed) return;
    if (!final && res.writableLength > bufferBytes) {
      close();
      res.destroy();
      return;
    }
    res.write(frame);
  }
  const write = (result: unknown, final = false) =>
    send(`data: ${JSON.stringify({ jsonrpc: "2.0", id, result })}\n\n`, final);
  const emit = (event: TaskEvent) => {
    const final = event.type === "state" && TERMINAL.has(event.state);
    for (const result of protocol.streamEvents(task, event)) write(result, final);
  };
  function flushProgress() {
    flushTimer = undefined;
    const event = pending;
    pending = undefined;
    if (!event) return;
    lastProgressAt = now();
    emit(event);
  }
  const onEvent = (event: TaskEvent) => {
    if (event.type === "progress") {
      pending = event; // the latest note wins
      const wait = lastProgressAt + intervalMs - now();
      if (wait <= 0) flushProgress();
      else if (!flushTimer) flushTimer = setTimeout(flushProgress, wait);
      return;
    }
    // A state change or an activity goes out at once, after the note it follows (never dropped).
    if (flushTimer) clearTimeout(flushTimer);
    flushProgress();
    emit(event);
    if (event.type === "state" && TERMINAL.has(event.state)) end();
  };
  /** The end of the stream: the final events have been written. */
  function end() {
    close();
    if (res.destroyed) return;
    res.end();
    const deadline = setTimeout(() => res.destroy(), limits.finalFlushMs ?? FINAL_FLUSH_MS);
    deadline.unref();
    res.once("close", () => clearTimeout(deadline));
  }
  res.on("close", close);
  const ended = TERMINAL.has(task.state);
  if (stream.resubscribe) {
    // The snapshot: everything up to its sequence is in it; the live events carry the numbers after.
    write(protocol.streamStart(task), ended);
    if (ended) end();
    else off = service.subscribe(task.id, onEvent);
    return;
  }
  if (!ended) off = service.subscribe(task.id, onEvent);
  // The task as it started (a turn may already have ended by now: its end follows at once, with the
  // numbers after the start's).
  const { reply: _reply, note: _note, error: _error, ...started } = task;
  const before = task.sequence - (task.state === "completed" ? 2 : 1);
  write(protocol.streamStart(ended ? { ...started, state: "working", sequence: Math.max(0, before) } : task));
  if (ended) onEvent({ type: "state", state: task.state, sequence: task.sequence });
}
