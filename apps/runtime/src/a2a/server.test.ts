import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { answerRpc, handleRpc, RPC, type RpcAnswer } from "./server.js";
import type { A2AService } from "./service.js";
import { createTaskRegistry, TERMINAL } from "./task-registry.js";

type Usage = { input_tokens: number; output_tokens: number };
type Turn = (
  text: string,
  progress: (note: string) => void,
) => Promise<{ text: string; usage?: Usage } | { failed: string }>;

/** An A2AService on the real task registry whose turns are `turn` (the daemon's runs the agent). */
function service(turn: Turn = async (text) => ({ text: `echo: ${text}` }), streaming = true) {
  const taskRegistry = createTaskRegistry();
  const started: Array<{ id: string; contextId: string; text: string }> = [];
  const svc: A2AService = {
    streaming,
    async start(request) {
      const id = request.taskId ?? request.messageId ?? randomUUID();
      const contextId = request.contextId ?? "default-ctx";
      const task = taskRegistry.create({
        id,
        contextId,
        text: request.text,
        messageId: request.messageId ?? "m",
        ...(request.owner !== undefined ? { owner: request.owner } : {}),
      });
      started.push({ id, contextId, text: request.text });
      taskRegistry.transition(id, "working");
      void turn(request.text, (note) => taskRegistry.progress(id, note)).then((r) =>
        "text" in r
          ? taskRegistry.transition(id, "completed", { reply: r.text, ...(r.usage ? { usage: r.usage } : {}) })
          : taskRegistry.transition(id, "failed", {
              error: { code: RPC.TURN_FAILED, message: r.failed, data: { outcome: "auth" } },
            }),
      );
      return { ok: true, task };
    },
    get: (id) => taskRegistry.get(id),
    cancel(id) {
      const task = taskRegistry.get(id);
      if (!task) return { ok: false, error: { code: RPC.TASK_NOT_FOUND, message: "not found" } };
      if (TERMINAL.has(task.state)) return { ok: false, error: { code: RPC.TASK_NOT_CANCELABLE, message: "ended" } };
      taskRegistry.transition(id, "canceled", { error: { code: RPC.TURN_FAILED, message: "cancelled" } });
      return { ok: true, task };
    },
    ended: (id) => taskRegistry.ended(id),
    subscribe: (id, listener) => taskRegistry.subscribe(id, listener),
  };
  return Object.assign(svc, { started, taskRegistry });
}

const rpc = (method: string, params: unknown, id: unknown = "1") =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });

function json(answer: RpcAnswer) {
  if (answer.kind !== "json") throw new Error("expected a JSON answer");
  return answer.response;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("handleRpc", () => {
  it("a completed turn's usage is the result's metadata.usage (v0.3 and v1.0 send, tasks/get)", async () => {
    const usage = { input_tokens: 12, output_tokens: 3 };
    const s = service(async (text) => ({ text: `echo: ${text}`, usage }));
    const send = (method: string, id: string, parts: unknown[]) =>
      handleRpc(rpc(method, { message: { role: "user", messageId: id, parts } }), s).then(json);
    const v03 = await send("message/send", "u-1", [{ kind: "text", text: "hi" }]);
    expect(v03.result).toMatchObject({ kind: "message", metadata: { usage } });
    const v1 = await send("SendMessage", "u-2", [{ text: "hi" }]);
    expect(v1.result).toMatchObject({ message: { metadata: { usage } } });
    const got = json(await handleRpc(rpc("tasks/get", { id: "u-1" }), s));
    expect(got.result).toMatchObject({ kind: "task", metadata: { usage } });
    // without usage there is no metadata
    const plain = service();
    expect(
      json(await handleRpc(rpc("message/send", { message: { parts: [{ kind: "text", text: "x" }] } }), plain)).result,
    ).not.toHaveProperty("metadata");
  });

  it("message/send (v0.3) answers a Message with kind text parts, its taskId and contextId", async () => {
    const s = service();
    const res = json(
      await handleRpc(
        rpc("message/send", { message: { role: "user", messageId: "m-1", parts: [{ kind: "text", text: "hi" }] } }),
        s,
      ),
    );
    expect(res.id).toBe("1");
    expect(res.result).toMatchObject({
      kind: "message",
      role: "agent",
      taskId: "m-1",
      contextId: "default-ctx",
      parts: [{ kind: "text", text: "echo: hi" }],
    });
  });

  it("SendMessage (v1.0) answers { message } in v1.0 JSON; the caller's contextId is kept", async () => {
    const res = json(
      await handleRpc(
        rpc(
          "SendMessage",
          { message: { role: "ROLE_USER", messageId: "m-2", contextId: "c-9", parts: [{ text: "a" }, { text: "b" }] } },
          7,
        ),
        service(),
      ),
    );
    expect(res.id).toBe(7);
    expect(res.result).toEqual({
      message: {
        messageId: expect.any(String),
        contextId: "c-9",
        taskId: "m-2",
        role: "ROLE_AGENT",
        parts: [{ text: "echo: a\nb", mediaType: "text/plain" }],
      },
    });
  });

  it("parse error, invalid request, unknown method and bad params each get their code", async () => {
    const s = service();
    expect(json(await handleRpc("{nope", s)).error?.code).toBe(RPC.PARSE_ERROR);
    expect(json(await handleRpc(JSON.stringify({ id: 1, method: "x" }), s)).error?.code).toBe(RPC.INVALID_REQUEST);
    expect(json(await handleRpc(rpc("tasks/subscribe", {}), s)).error?.code).toBe(RPC.METHOD_NOT_FOUND);
    expect(json(await handleRpc(rpc("tasks/resubscribe", {}), s)).error?.code).toBe(RPC.INVALID_PARAMS);
    expect(json(await handleRpc(rpc("toString", {}), s)).error?.code).toBe(RPC.METHOD_NOT_FOUND);
    expect(json(await handleRpc(rpc("message/send", { message: { parts: [] } }), s)).error?.code).toBe(
      RPC.INVALID_PARAMS,
    );
    expect(json(await handleRpc(rpc("message/send", null), s)).error?.code).toBe(RPC.INVALID_PARAMS);
    const noText = rpc("message/send", { message: { parts: [{ kind: "file", file: {} }] } });
    expect(json(await handleRpc(noText, s)).error?.code).toBe(RPC.INVALID_PARAMS);
    const longContext = rpc("SendMessage", { message: { contextId: "x".repeat(257), parts: [{ text: "hi" }] } });
    expect(json(await handleRpc(longContext, s)).error?.message).toMatch(/contextId/);
    expect(json(await handleRpc(rpc("tasks/get", {}), s)).error?.code).toBe(RPC.INVALID_PARAMS);
    expect(json(await handleRpc(rpc("tasks/pushNotificationConfig/set", {}), s)).error?.code).toBe(
      RPC.PUSH_NOT_SUPPORTED,
    );
    expect(s.started).toEqual([]);
  });

  it("a failed turn is a JSON-RPC error with the safe message and outcome", async () => {
    const res = json(
      await handleRpc(
        rpc("message/send", { message: { messageId: "m", parts: [{ kind: "text", text: "x" }] } }),
        service(async () => ({ failed: "agent is not logged in" })),
      ),
    );
    expect(res.error).toEqual({ code: RPC.TURN_FAILED, message: "agent is not logged in", data: { outcome: "auth" } });
  });

  it("non-blocking sends answer the task at once; tasks/get and GetTask follow it; cancel ends it", async () => {
    const gate = deferred<void>();
    const s = service(async (text) => {
      await gate.promise;
      return { text: `late ${text}` };
    });
    const v03 = json(
      await handleRpc(
        rpc("message/send", {
          message: { messageId: "t-1", contextId: "c", parts: [{ kind: "text", text: "one" }] },
          configuration: { blocking: false },
        }),
        s,
      ),
    );
    expect(v03.result).toMatchObject({ kind: "task", id: "t-1", contextId: "c", status: { state: "working" } });
    const v1 = json(
      await handleRpc(
        rpc("SendMessage", {
          message: { messageId: "t-2", parts: [{ text: "two" }] },
          configuration: { returnImmediately: true },
        }),
        s,
      ),
    );
    expect(v1.result).toMatchObject({ task: { id: "t-2", status: { state: "TASK_STATE_WORKING" } } });

    expect(json(await handleRpc(rpc("CancelTask", { id: "t-2" }), s)).result).toMatchObject({
      id: "t-2",
      status: { state: "TASK_STATE_CANCELED" },
    });
    expect(json(await handleRpc(rpc("tasks/cancel", { id: "t-2" }), s)).error?.code).toBe(RPC.TASK_NOT_CANCELABLE);
    expect(json(await handleRpc(rpc("tasks/cancel", { id: "nope" }), s)).error?.code).toBe(RPC.TASK_NOT_FOUND);

    gate.resolve();
    await s.ended("t-1");
    const got = json(await handleRpc(rpc("tasks/get", { id: "t-1", historyLength: 1 }), s)).result;
    expect(got).toMatchObject({
      kind: "task",
      status: { state: "completed", message: { role: "agent", parts: [{ kind: "text", text: "late one" }] } },
      artifacts: [{ parts: [{ kind: "text", text: "late one" }] }],
    });
    expect((got as { history: unknown[] }).history).toHaveLength(1);
    expect(json(await handleRpc(rpc("GetTask", { id: "t-1" }), s)).result).toMatchObject({
      id: "t-1",
      contextId: "c",
      status: { state: "TASK_STATE_COMPLETED" },
      history: [{ role: "ROLE_USER" }, { role: "ROLE_AGENT" }],
    });
  });

  it("streaming off: the stream methods answer unsupported operation", async () => {
    const s = service(undefined, false);
    const params = { message: { parts: [{ text: "hi" }] } };
    for (const method of ["message/stream", "SendStreamingMessage"]) {
      expect(json(await handleRpc(rpc(method, params), s)).error?.code).toBe(RPC.UNSUPPORTED_OPERATION);
    }
    expect(s.started).toEqual([]);
    // resubscribe is a stream too: off with streaming, even for a task that exists
    await handleRpc(rpc("message/send", { message: { messageId: "t-off", parts: [{ text: "hi" }] } }), s);
    for (const method of ["tasks/resubscribe", "SubscribeToTask"]) {
      expect(json(await handleRpc(rpc(method, { id: "t-off" }), s)).error?.code).toBe(RPC.UNSUPPORTED_OPERATION);
    }
  });
});

describe("answerRpc streams over SSE", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  async function serve(s: A2AService): Promise<string> {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString("utf8");
      });
      req.on("end", () => void answerRpc(res, body, s));
    });
    await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  async function events(url: string, body: string): Promise<{ type: string | null; data: unknown[] }> {
    const res = await fetch(url, { method: "POST", body, headers: { accept: "text/event-stream" } });
    const text = await res.text();
    const data = text
      .split("\n\n")
      .filter((chunk) => chunk.startsWith("data: "))
      .map((chunk) => JSON.parse(chunk.slice(6)) as { result: unknown });
    return { type: res.headers.get("content-type"), data: data.map((d) => d.result) };
  }

  it("message/stream: the task (working) at once, progress, the artifact, the final status", async () => {
    const url = await serve(
      service(async (text, progress) => {
        await new Promise((r) => setTimeout(r, 5));
        progress("model API retry 1");
        await new Promise((r) => setTimeout(r, 5));
        return { text: `echo: ${text}` };
      }),
    );
    const { type, data } = await events(
      url,
      rpc("message/stream", { message: { parts: [{ kind: "text", text: "hi" }] } }),
    );
    expect(type).toBe("text/event-stream");
    expect(data).toMatchObject([
      { kind: "task", status: { state: "working" } },
      {
        kind: "status-update",
        final: false,
        status: { state: "working", message: { parts: [{ kind: "text", text: "model API retry 1" }] } },
      },
      { kind: "artifact-update", artifact: { parts: [{ kind: "text", text: "echo: hi" }] } },
      { kind: "status-update", final: true, status: { state: "completed", message: { role: "agent" } } },
    ]);
  });

  it("SendStreamingMessage: v1.0 stream responses; a failure ends with the failed status", async () => {
    const url = await serve(service(async () => ({ failed: "agent is not logged in" })));
    const { data } = await events(url, rpc("SendStreamingMessage", { message: { parts: [{ text: "hi" }] } }));
    expect(data).toMatchObject([
      { task: { status: { state: "TASK_STATE_WORKING" } } },
      {
        statusUpdate: {
          status: { state: "TASK_STATE_FAILED", message: { parts: [{ text: "agent is not logged in" }] } },
          metadata: { outcome: "auth" },
        },
      },
    ]);
  });

  it("errors before the stream starts are plain JSON-RPC answers", async () => {
    const url = await serve(service());
    const res = await fetch(url, { method: "POST", body: rpc("message/stream", { message: { parts: [] } }) });
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(RPC.INVALID_PARAMS);
  });
});

type Frame = Record<string, unknown>;

/** An SSE stream read as it arrives: `next()` is its next event's result (undefined once it ended). */
async function openStream(url: string, body: string) {
  const abort = new AbortController();
  const res = await fetch(url, { method: "POST", body, signal: abort.signal });
  if (!res.body) throw new Error("expected a stream");
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let ended = false;
  async function next(): Promise<Frame | undefined> {
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut >= 0) {
        const chunk = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (chunk.startsWith("data: ")) return (JSON.parse(chunk.slice(6)) as { result: Frame }).result;
        continue;
      }
      if (ended) return undefined;
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffer += decoder.decode(value, { stream: true });
    }
  }
  async function rest(): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (let frame = await next(); frame !== undefined; frame = await next()) frames.push(frame);
    return frames;
  }
  return { next, rest, cut: () => abort.abort() };
}

/** An event's `metadata.sequence`, in either version's shape. */
function sequenceOf(frame: Frame | undefined): unknown {
  const inner = (frame?.task ?? frame?.statusUpdate ?? frame?.artifactUpdate ?? frame) as
    | { metadata?: { sequence?: unknown } }
    | undefined;
  return inner?.metadata?.sequence;
}

describe("tasks/resubscribe and SubscribeToTask", () => {
  let server: Server | undefined;
  afterEach(async () => {
    const closed = new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server?.closeAllConnections(); // the clients' idle keep-alive connections too
    await closed;
    server = undefined;
  });

  async function serve(s: A2AService): Promise<string> {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString("utf8");
      });
      req.on("end", () => void answerRpc(res, body, s));
    });
    await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  const usage = { input_tokens: 5, output_tokens: 2 };

  it("a stream cut mid-turn, then resubscribe: the snapshot, the live events, the end; no sequence twice", async () => {
    const gate = deferred<void>();
    const s = service(async (text) => {
      await gate.promise;
      return { text: `echo: ${text}`, usage };
    });
    const url = await serve(s);
    const first = await openStream(
      url,
      rpc("message/stream", { message: { messageId: "r-1", parts: [{ kind: "text", text: "hi" }] } }),
    );
    const start = await first.next();
    expect(start).toMatchObject({ kind: "task", id: "r-1", status: { state: "working" }, metadata: { sequence: 1 } });
    s.taskRegistry.activity("r-1", { kind: "tool_call", tool: "Bash", id: "c1", summary: "ls" });
    const call = await first.next();
    expect(call).toMatchObject({ kind: "status-update", metadata: { kind: "tool_call", tool: "Bash", sequence: 2 } });
    first.cut();
    s.taskRegistry.progress("r-1", "said while nobody listened");

    const second = await openStream(url, rpc("tasks/resubscribe", { id: "r-1" }, "2"));
    const snapshot = await second.next();
    expect(snapshot).toMatchObject({
      kind: "task",
      id: "r-1",
      status: { state: "working", message: { parts: [{ kind: "text", text: "said while nobody listened" }] } },
      history: [{ role: "user" }],
      metadata: { sequence: 3 },
    });
    s.taskRegistry.activity("r-1", { kind: "tool_result", tool: "Bash", id: "c1", summary: "a b" });
    gate.resolve();
    const rest = await second.rest();
    expect(rest).toMatchObject([
      { kind: "status-update", final: false, metadata: { kind: "tool_result", sequence: 4 } },
      { kind: "artifact-update", artifact: { parts: [{ kind: "text", text: "echo: hi" }] }, metadata: { sequence: 5 } },
      {
        kind: "status-update",
        final: true,
        status: { state: "completed" },
        metadata: { usage: { ...usage, source: "agent-estimate" }, sequence: 6 },
      },
    ]);
    const seen = [start, call, snapshot, ...rest].map(sequenceOf);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("two subscribers at once, each on its own: one that stops reading is cut off, the other gets every event", async () => {
    const gate = deferred<void>();
    const s = service(async () => {
      await gate.promise;
      return { text: "done" };
    });
    const url = await serve(s);
    await handleRpc(
      rpc("SendMessage", {
        message: { messageId: "r-2", parts: [{ text: "hi" }] },
        configuration: { returnImmediately: true },
      }),
      s,
    );
    const body = rpc("SubscribeToTask", { id: "r-2" });
    // A subscriber that reads its first bytes (the snapshot is sent: it is subscribed), then nothing.
    const stalled = connect(Number(new URL(url).port), "127.0.0.1");
    stalled.on("error", () => undefined);
    const subscribed = new Promise<void>((done) =>
      stalled.once("data", () => {
        stalled.pause();
        done();
      }),
    );
    stalled.write(`POST / HTTP/1.1\r\nhost: x\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await subscribed;
    const reading = await openStream(url, body);
    expect(await reading.next()).toMatchObject({
      task: { id: "r-2", status: { state: "TASK_STATE_WORKING" }, metadata: { sequence: 1 } },
    });
    // 20 MB of events, far beyond one stream's buffer and the kernel's socket buffers.
    const summary = "x".repeat(64 * 1024);
    const events = 320;
    for (let i = 0; i < events; i += 1) {
      s.taskRegistry.activity("r-2", { kind: "tool_result", summary: `${summary} ${i}` });
      expect(sequenceOf(await reading.next())).toBe(2 + i);
    }
    gate.resolve();
    expect(await reading.rest()).toMatchObject([
      { artifactUpdate: { metadata: { sequence: events + 2 } } },
      { statusUpdate: { status: { state: "TASK_STATE_COMPLETED" }, metadata: { sequence: events + 3 } } },
    ]);
    // The stalled one was disconnected on the way: what reached it ends before the task did.
    let received = "";
    stalled.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
    });
    await new Promise<void>((done) => {
      stalled.once("close", () => done());
      stalled.resume();
    });
    expect(received).not.toContain("TASK_STATE_COMPLETED");
    expect(received.split("\ndata: ").length - 1).toBeLessThan(events);
  });

  it("an ended task: its snapshot and the end at once, in both versions", async () => {
    const s = service(async (text) => (text === "fail" ? { failed: "agent is not logged in" } : { text: "ok", usage }));
    const url = await serve(s);
    await handleRpc(rpc("message/send", { message: { messageId: "r-3", parts: [{ kind: "text", text: "hi" }] } }), s);
    await handleRpc(rpc("SendMessage", { message: { messageId: "r-4", parts: [{ text: "fail" }] } }), s);
    const v03 = await (await openStream(url, rpc("tasks/resubscribe", { id: "r-3" }))).rest();
    expect(v03).toHaveLength(1);
    expect(v03[0]).toMatchObject({
      kind: "task",
      id: "r-3",
      status: { state: "completed", message: { parts: [{ kind: "text", text: "ok" }] } },
      artifacts: [{ parts: [{ kind: "text", text: "ok" }] }],
      metadata: { usage: { ...usage, source: "agent-estimate" }, sequence: 3 },
    });
    const v1 = await (await openStream(url, rpc("SubscribeToTask", { id: "r-4" }))).rest();
    expect(v1).toEqual([
      {
        task: expect.objectContaining({
          id: "r-4",
          status: expect.objectContaining({ state: "TASK_STATE_FAILED" }),
          metadata: { outcome: "auth", code: RPC.TURN_FAILED, sequence: 2 },
        }),
      },
    ]);
  });

  it("an unknown task, or another caller's, is not found; the owner is the record's (a restored task too)", async () => {
    const gate = deferred<void>();
    const s = service(async () => {
      await gate.promise;
      return { text: "done" };
    });
    const send = rpc("message/send", {
      message: { messageId: "r-5", parts: [{ kind: "text", text: "hi" }] },
      configuration: { blocking: false },
    });
    expect(json(await handleRpc(send, s, "alice")).result).toMatchObject({ id: "r-5" });
    expect(s.get("r-5")?.owner).toBe("alice");
    s.taskRegistry.create({ id: "restored", contextId: "c", text: "hi", messageId: "m-r", owner: "alice" });
    for (const id of ["r-5", "restored"]) {
      for (const method of ["tasks/resubscribe", "SubscribeToTask"]) {
        expect(json(await handleRpc(rpc(method, { id }), s, "bob")).error?.code).toBe(RPC.TASK_NOT_FOUND);
        expect(json(await handleRpc(rpc(method, { id }), s)).error?.code).toBe(RPC.TASK_NOT_FOUND);
        expect(await handleRpc(rpc(method, { id }), s, "alice")).toMatchObject({ kind: "stream", resubscribe: true });
      }
      expect(json(await handleRpc(rpc("tasks/get", { id }), s, "bob")).error?.code).toBe(RPC.TASK_NOT_FOUND);
      expect(json(await handleRpc(rpc("GetTask", { id }), s, "alice")).result).toMatchObject({ id });
    }
    expect(json(await handleRpc(rpc("tasks/resubscribe", { id: "nope" }), s)).error?.code).toBe(RPC.TASK_NOT_FOUND);
    expect(json(await handleRpc(rpc("SubscribeToTask", {}), s)).error?.code).toBe(RPC.INVALID_PARAMS);
    gate.resolve();
  });
});
