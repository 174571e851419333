import { createServer, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { protocolV03 } from "./protocol-v03.js";
import type { A2AService } from "./service.js";
import { type StreamLimits, streamTask } from "./sse.js";
import { createTaskRegistry } from "./task-registry.js";

/** The real task registry behind a stream (the service's other methods are not used by a stream). */
function registryService() {
  const registry = createTaskRegistry();
  const service = {
    streaming: true,
    subscribe: (id: string, listener: Parameters<A2AService["subscribe"]>[1]) => registry.subscribe(id, listener),
  } as Pick<A2AService, "streaming" | "subscribe"> as A2AService;
  return { registry, service };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server?.closeAllConnections();
  server = undefined;
});

/** Serves one task as a stream on a real loopback server; resolves its URL and the stream's response. */
async function serveStream(limits: StreamLimits, resubscribe = false) {
  const { registry, service } = registryService();
  const task = registry.create({ id: "t1", contextId: "c1", text: "hi", messageId: "m1" });
  registry.transition(task.id, "working");
  let resolveOpened: (res: ServerResponse) => void = () => {};
  const opened = new Promise<ServerResponse>((resolve) => {
    resolveOpened = resolve;
  });
  const listener = createServer((_req, res) => {
    streamTask(res, { id: "1", protocol: protocolV03, task, resubscribe }, service, limits);
    resolveOpened(res);
  });
  server = listener;
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", () => r()));
  const port = (listener.address() as AddressInfo).port;
  return { registry, task, port, opened };
}

type Frame = {
  kind: string;
  final?: boolean;
  status?: { state: string; message?: { parts: Array<{ text: string }> } };
  metadata?: { sequence?: number };
};

async function readFrames(port: number): Promise<Frame[]> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "{}" });
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((chunk) => chunk.startsWith("data: "))
    .map((chunk) => (JSON.parse(chunk.slice(6)) as { result: Frame }).result);
}

describe("streamTask", () => {
  it("coalesces a burst of progress notes (the latest wins) and never drops a state event", async () => {
    const s = await serveStream({ progressIntervalMs: 60_000 });
    const frames = readFrames(s.port);
    await s.opened;
    for (let i = 1; i <= 500; i += 1) s.registry.progress(s.task.id, `model API retry ${i}`);
    s.registry.transition(s.task.id, "completed", { reply: "done" });
    const notes = (await frames)
      .filter((f) => f.kind === "status-update" && !f.final)
      .map((f) => f.status?.message?.parts[0]?.text);
    // The first note at once; the rest wait for the interval and only the latest goes out, before the end.
    expect(notes).toEqual(["model API retry 1", "model API retry 500"]);
    const last = (await frames).at(-1);
    expect(last).toMatchObject({ kind: "status-update", final: true, status: { state: "completed" } });
  });

  it("disconnects a client that stops reading once its buffer is full; the task goes on", async () => {
    const bufferBytes = 64 * 1024;
    const s = await serveStream({ bufferBytes, progressIntervalMs: 0 });
    const client = connect(s.port, "127.0.0.1");
    client.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}");
    client.pause(); // never reads a byte of the stream
    const res = await s.opened;
    const closed = new Promise<void>((r) => res.once("close", () => r()));
    const note = "x".repeat(16 * 1024);
    let maxBuffered = 0;
    let sent = 0;
    while (!res.destroyed && sent < 5_000) {
      s.registry.progress(s.task.id, `${note} ${sent}`);
      maxBuffered = Math.max(maxBuffered, res.writableLength);
      sent += 1;
      await new Promise((r) => setImmediate(r));
    }
    await closed;
    client.destroy();
    expect(res.destroyed).toBe(true);
    expect(sent).toBeLessThan(5_000);
    // Never more than the buffer plus the one event being written.
    expect(maxBuffered).toBeLessThanOrEqual(bufferBytes + 2 * note.length);
    // The turn goes on without the stream, and ends as usual for tasks/get.
    s.registry.progress(s.task.id, "still working");
    s.registry.transition(s.task.id, "completed", { reply: "done" });
    expect(s.registry.get(s.task.id)).toMatchObject({ state: "completed", reply: { text: "done" } });
  });

  it("a reading client gets a reply larger than the buffer, and the final status after it", async () => {
    const s = await serveStream({ bufferBytes: 64 * 1024 });
    const frames = readFrames(s.port);
    await s.opened;
    s.registry.transition(s.task.id, "completed", { reply: "r".repeat(4 * 1024 * 1024) });
    const got = await frames;
    expect(got.map((f) => f.kind)).toEqual(["task", "artifact-update", "status-update"]);
    expect(got.at(-1)).toMatchObject({ final: true, status: { state: "completed" } });
  });

  it("a client that never reads the final events is closed after FINAL_FLUSH_MS", async () => {
    const s = await serveStream({ progressIntervalMs: 0, finalFlushMs: 300 });
    const client = connect(s.port, "127.0.0.1");
    client.on("error", () => undefined);
    client.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}");
    client.pause();
    const res = await s.opened;
    const closed = new Promise<void>((r) => res.once("close", () => r()));
    // A reply far larger than the socket buffers take: it cannot all reach a client that reads nothing.
    s.registry.transition(s.task.id, "completed", { reply: "r".repeat(16 * 1024 * 1024) });
    expect(res.writableEnded).toBe(true);
    expect(res.writableFinished).toBe(false);
    await closed;
    expect(res.destroyed).toBe(true);
    client.destroy();
  });

  it("a reading client gets every progress note when they come slower than the interval", async () => {
    let clock = 0;
    const s = await serveStream({ progressIntervalMs: 250, now: () => clock });
    const frames = readFrames(s.port);
    await s.opened;
    for (let i = 1; i <= 3; i += 1) {
      clock += 300;
      s.registry.progress(s.task.id, `note ${i}`);
    }
    s.registry.transition(s.task.id, "failed", { error: { code: -32000, message: "agent failed" } });
    const states = (await frames).map((f) => f.status?.message?.parts[0]?.text ?? f.kind);
    expect(states).toEqual(["task", "note 1", "note 2", "note 3", "agent failed"]);
  });

  it("resubscribe: the snapshot carries the task's sequence, the events after it the numbers after", async () => {
    const s = await serveStream({ progressIntervalMs: 0 }, true);
    s.registry.progress(s.task.id, "before the subscriber came");
    const frames = readFrames(s.port);
    await s.opened;
    s.registry.activity(s.task.id, { kind: "tool_call", tool: "Read", summary: "a.txt" });
    s.registry.transition(s.task.id, "completed", { reply: "done" });
    const got = await frames;
    expect(got.map((f) => [f.kind, f.metadata?.sequence])).toEqual([
      ["task", 2],
      ["status-update", 3],
      ["artifact-update", 4],
      ["status-update", 5],
    ]);
    expect(got[0]?.status).toMatchObject({
      state: "working",
      message: { parts: [{ text: "before the subscriber came" }] },
    });
  });

  it("resubscribe to an ended task: its snapshot (the reply in it) and the end, nothing else", async () => {
    const s = await serveStream({}, true);
    s.registry.transition(s.task.id, "completed", { reply: "done" });
    const got = await readFrames(s.port);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: "task", status: { state: "completed" }, metadata: { sequence: 3 } });
  });

  it("message/stream for a task that ended before its stream began: the start's number is below its end's", async () => {
    const s = await serveStream({});
    s.registry.transition(s.task.id, "completed", { reply: "done" });
    const got = await readFrames(s.port);
    expect(got.map((f) => [f.kind, f.status?.state, f.metadata?.sequence])).toEqual([
      ["task", "working", 1],
      ["artifact-update", undefined, 2],
      ["status-update", "completed", 3],
    ]);
  });
});
