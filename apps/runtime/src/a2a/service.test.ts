import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createTaskTracker } from "@molecule/heartbeat";
import { createPreflightGate } from "@molecule/preflight";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Executor, TurnReply, TurnRequest } from "../executor.js";
import { createMetrics } from "../metrics.js";
import { createSecrets } from "../redact.js";
import { createScheduler } from "../scheduler.js";
import { createStateDirHealth, type StateDirHealth } from "../state-dir-health.js";
import { createTurnRunner } from "../turns.js";
import { createConversations } from "./contexts.js";
import type { SendRequest } from "./protocol.js";
import { RPC } from "./rpc.js";
import { answerRpc, handleRpc, type RpcAnswer } from "./server.js";
import { type A2AService, createA2AService } from "./service.js";

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * An executor whose turns wait until the test answers them (a seam: the built-in ones run an agent).
 * An aborted turn answers `cancelled` at once, as the built-in ones do.
 */
function heldExecutor() {
  const pending: Array<{ turn: TurnRequest; answer: (reply: TurnReply) => void }> = [];
  const executor: Executor = {
    name: "held",
    runTurn(turn) {
      const reply = deferred<TurnReply>();
      pending.push({ turn, answer: reply.resolve });
      turn.signal.addEventListener("abort", () => reply.resolve({ outcome: "cancelled" }), { once: true });
      return reply.promise;
    },
  };
  return { executor, pending };
}

/** Resolves once `check` holds, polling the event loop (no timers to wait on). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1_000 && !(await check()); i++) await new Promise((r) => setImmediate(r));
  expect(await check()).toBe(true);
}

const send = (text: string, extra: Partial<SendRequest> = {}): SendRequest => ({
  text,
  messageId: undefined,
  contextId: undefined,
  taskId: undefined,
  blocking: true,
  historyLength: undefined,
  ...extra,
});

let dir = "";
let stateDirHealth: StateDirHealth;
beforeEach(async () => {
  dir = await tempDir("molecule-a2a-service-");
});
afterEach(async () => {
  stateDirHealth?.stop();
  await removeDir(dir);
});

function setup(options: { maxConcurrent?: number; queueSize?: number } = {}) {
  const sink = sinkLogger();
  const metrics = createMetrics();
  const tracker = createTaskTracker();
  stateDirHealth = createStateDirHealth({ stateDir: dir, log: sink.logger });
  const { executor, pending } = heldExecutor();
  const turns = createTurnRunner({
    executor,
    timeoutSeconds: 30,
    gate: createPreflightGate({ checks: [] }),
    log: sink.logger,
    metrics,
    secrets: createSecrets({}),
    tracker,
    stateDirHealth,
  });
  let draining = false;
  const scheduler = createScheduler({ maxConcurrent: options.maxConcurrent ?? 4, queueSize: options.queueSize ?? 8 });
  const service = createA2AService({
    turns,
    scheduler,
    conversations: createConversations({ stateDir: dir, maxContexts: 8, log: sink.logger }),
    log: sink.logger,
    timeoutSeconds: 30,
    streaming: true,
    draining: () => draining,
  });
  return {
    service,
    pending,
    turns,
    metrics,
    tracker,
    drain: () => {
      draining = true;
      scheduler.close();
    },
  };
}

async function started(service: ReturnType<typeof setup>["service"], request: SendRequest) {
  const result = await service.start(request);
  if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  return result.task;
}

describe("createA2AService", () => {
  it("send: the task works, then completes with the agent's reply; the turn is accounted once", async () => {
    const { service, pending, turns, metrics, tracker } = setup();
    const task = await started(service, send("hello", { messageId: "m-1" }));
    expect(task.id).toBe("m-1");
    await until(() => pending.length === 1);
    expect(task.state).toBe("working");
    expect(pending[0]?.turn.text).toBe("hello");
    pending[0]?.answer({ outcome: "ok", text: "hi there" });
    await service.ended(task.id);
    expect(service.get("m-1")).toMatchObject({ state: "completed", reply: { text: "hi there" } });
    expect(turns.lastOutcome()).toBe("ok");
    expect((await metrics.turns.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([["ok", 1]]);
    expect(tracker.snapshot().active).toBe(0);
  });

  it("turns of one context run one at a time, in arrival order; another context runs beside them", async () => {
    const { service, pending } = setup();
    const a1 = await started(service, send("a1", { contextId: "ctx-a" }));
    const a2 = await started(service, send("a2", { contextId: "ctx-a" }));
    const b1 = await started(service, send("b1", { contextId: "ctx-b" }));
    await until(() => pending.length === 2);
    expect(pending.map((p) => p.turn.text)).toEqual(["a1", "b1"]);
    expect(a2.state).not.toBe("working");
    pending[0]?.answer({ outcome: "ok", text: "A1" });
    await service.ended(a1.id);
    await until(() => pending.length === 3);
    expect(pending[2]?.turn).toMatchObject({ text: "a2", contextId: "ctx-a" });
    pending[2]?.answer({ outcome: "ok", text: "A2" });
    pending[1]?.answer({ outcome: "ok", text: "B1" });
    await Promise.all([service.ended(a2.id), service.ended(b1.id)]);
    expect([a1, a2, b1].map((t) => t.reply?.text)).toEqual(["A1", "A2", "B1"]);
  });

  it("cancel: a running task is canceled at once and its turn aborted; a second cancel is refused", async () => {
    const { service, pending, metrics } = setup();
    const task = await started(service, send("long"));
    await until(() => pending.length === 1);
    const cancelled = service.cancel(task.id);
    expect(cancelled.ok).toBe(true);
    expect(task.state).toBe("canceled");
    expect(pending[0]?.turn.signal.aborted).toBe(true);
    await service.ended(task.id);
    // The aborted turn still ends in the runner: counted once, as cancelled.
    await until(async () => (await metrics.turns.get()).values.some((v) => v.labels.outcome === "cancelled"));
    const again = service.cancel(task.id);
    expect(again).toMatchObject({ ok: false, error: { code: RPC.TASK_NOT_CANCELABLE } });
    expect(service.cancel("no-such-task")).toMatchObject({ ok: false, error: { code: RPC.TASK_NOT_FOUND } });
  });

  it("a failed turn fails its task with the safe error; a refusal while draining is busy and counted once", async () => {
    const { service, pending, turns, metrics, drain } = setup();
    const task = await started(service, send("x"));
    await until(() => pending.length === 1);
    pending[0]?.answer({ outcome: "auth", detail: "Invalid API key" });
    await service.ended(task.id);
    expect(task.state).toBe("failed");
    expect(task.error).toMatchObject({ code: RPC.TURN_FAILED, data: { outcome: "auth" } });
    drain();
    const refused = await service.start(send("late"));
    expect(refused).toMatchObject({ ok: false, error: { code: RPC.BUSY, data: { busy: true } } });
    expect(refused.ok ? "" : refused.error.message).toMatch(/shut/i);
    expect(turns.lastOutcome()).toBe("busy");
    const counts = Object.fromEntries((await metrics.turns.get()).values.map((v) => [v.labels.outcome, v.value]));
    expect(counts).toEqual({ auth: 1, busy: 1 });
  });
});

describe("a repeated messageId (a client's retry)", () => {
  it("while the task runs and after it ended, answers the same task: the agent runs once", async () => {
    const { service, pending, metrics } = setup();
    const first = await started(service, send("hello", { messageId: "m-r" }));
    await until(() => pending.length === 1);
    const whileRunning = await started(service, send("hello", { messageId: "m-r" }));
    expect(whileRunning).toBe(first);
    pending[0]?.answer({ outcome: "ok", text: "once" });
    await service.ended(first.id);
    const afterwards = await started(service, send("hello", { messageId: "m-r", blocking: false }));
    expect(afterwards).toBe(first);
    expect(afterwards).toMatchObject({ state: "completed", reply: { text: "once" } });
    await new Promise((r) => setImmediate(r));
    expect(pending).toHaveLength(1);
    expect((await metrics.turns.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual([["ok", 1]]);
  });

  it("in another context, with other text or another taskId it is a new task; the default context is the platform's", async () => {
    const { service, pending } = setup();
    const platform = await started(service, send("hi", { messageId: "m-d" }));
    expect(await started(service, send("hi", { messageId: "m-d" }))).toBe(platform);
    const elsewhere = await started(service, send("hi", { messageId: "m-d", contextId: "ctx-other" }));
    expect(elsewhere).not.toBe(platform);
    expect(elsewhere.contextId).toBe("ctx-other");
    const otherText = await started(service, send("something else", { messageId: "m-d" }));
    expect(otherText).not.toBe(platform);
    const otherTask = await started(service, send("hi", { messageId: "m-d", taskId: "t-new" }));
    expect(otherTask.id).toBe("t-new");
    await until(() => pending.length === 2); // the default context's turns run one at a time
    expect(pending.map((p) => p.turn.contextId)).toEqual([platform.contextId, "ctx-other"]);
    // The latest task of a message is the one a repeat answers.
    expect(await started(service, send("hi", { messageId: "m-d", taskId: "t-new" }))).toBe(otherTask);
  });

  it("a task that failed or was canceled is not answered again: the repeat is a new attempt", async () => {
    const { service, pending } = setup();
    const failed = await started(service, send("x", { messageId: "m-f" }));
    await until(() => pending.length === 1);
    pending[0]?.answer({ outcome: "rate-limited", detail: "429" });
    await service.ended(failed.id);
    const retried = await started(service, send("x", { messageId: "m-f" }));
    expect(retried).not.toBe(failed);
    await until(() => pending.length === 2);
    expect(service.cancel(retried.id).ok).toBe(true);
    const again = await started(service, send("x", { messageId: "m-f" }));
    expect([failed.id, retried.id]).not.toContain(again.id);
    await until(() => pending.length === 3);
    pending[2]?.answer({ outcome: "ok", text: "third time" });
    await service.ended(again.id);
    expect(await started(service, send("x", { messageId: "m-f" }))).toBe(again);
  });

  it("is answered even when the queue is full or the daemon drains (it needs no new turn)", async () => {
    const { service, pending, drain } = setup({ maxConcurrent: 1, queueSize: 0 });
    const task = await started(service, send("busy", { messageId: "m-b" }));
    await until(() => pending.length === 1);
    expect(await service.start(send("other"))).toMatchObject({ ok: false, error: { code: RPC.BUSY } });
    expect(await started(service, send("busy", { messageId: "m-b" }))).toBe(task);
    drain();
    expect(await started(service, send("busy", { messageId: "m-b" }))).toBe(task);
  });

  it("over JSON-RPC: v0.3 and v1.0 blocking sends both get the one answer; streams attach or replay it", async () => {
    const { service, pending } = setup();
    const v03 = rpc("message/send", { message: { messageId: "m-j", parts: [{ kind: "text", text: "q" }] } });
    const v1 = rpc("SendMessage", { message: { messageId: "m-j", parts: [{ text: "q" }] } });
    const first = handleRpc(v03, service);
    // The first send also creates the default context's file: real I/O, more than a few event-loop turns.
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    const second = handleRpc(v1, service);
    const stream = await handleRpc(
      rpc("SendStreamingMessage", { message: { messageId: "m-j", parts: [{ text: "q" }] } }),
      service,
    );
    expect(stream).toMatchObject({ kind: "stream", task: { id: "m-j", state: "working" } });
    pending[0]?.answer({ outcome: "ok", text: "the answer" });
    expect(jsonOf(await first).result).toMatchObject({
      kind: "message",
      taskId: "m-j",
      parts: [{ text: "the answer" }],
    });
    expect(jsonOf(await second).result).toMatchObject({ message: { taskId: "m-j", parts: [{ text: "the answer" }] } });
    const url = await serve(service);
    const replay = await sseResults(
      url,
      rpc("message/stream", { message: { messageId: "m-j", parts: [{ kind: "text", text: "q" }] } }),
    );
    expect(replay).toMatchObject([
      { kind: "task", id: "m-j" },
      { kind: "artifact-update", artifact: { parts: [{ text: "the answer" }] } },
      { kind: "status-update", final: true, status: { state: "completed" } },
    ]);
    expect(pending).toHaveLength(1);
  });
});

const rpc = (method: string, params: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });

function jsonOf(answer: RpcAnswer) {
  if (answer.kind !== "json") throw new Error("expected a JSON answer");
  return answer.response;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

async function serve(service: A2AService): Promise<string> {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => void answerRpc(res, body, service));
  });
  await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** The `result` of each SSE `data:` line of a streaming answer. */
async function sseResults(url: string, body: string): Promise<unknown[]> {
  const text = await (await fetch(url, { method: "POST", body })).text();
  return text
    .split("\n\n")
    .filter((chunk) => chunk.startsWith("data: "))
    .map((chunk) => (JSON.parse(chunk.slice(6)) as { result: unknown }).result);
}
