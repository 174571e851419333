import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTaskTracker } from "@molecule/heartbeat";
import { createPreflightGate } from "@molecule/preflight";
import { IS_ROOT, mountSmallVolume, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Executor } from "../executor.js";
import { createMetrics } from "../metrics.js";
import { createSecrets } from "../redact.js";
import { createScheduler } from "../scheduler.js";
import { createStateDirHealth } from "../state-dir-health.js";
import { createTurnRunner } from "../turns.js";
import { createConversations } from "./contexts.js";
import { RPC } from "./rpc.js";
import { handleRpc, type RpcAnswer } from "./server.js";
import { createA2AService } from "./service.js";
import { RECENT_TASKS, type TaskRegistry } from "./task-registry.js";
import { openTaskRecords, TASKS_FILE } from "./task-store.js";
import { INTERRUPTED_TEXT, recordLine } from "./task-store-file.js";

let dir = "";
beforeEach(async () => {
  dir = await tempDir("molecule-task-store-");
});
afterEach(async () => {
  await removeDir(dir);
});

const file = () => join(dir, TASKS_FILE);
const fileLines = async (path = file()) => (await readFile(path, "utf8")).split("\n").filter((l) => l !== "");

function open(stateDir = dir, extra: { health?: ReturnType<typeof createStateDirHealth> } = {}) {
  const sink = sinkLogger();
  return { sink, opened: openTaskRecords({ stateDir, log: sink.logger, ...extra }) };
}

/** Three tasks: completed with usage and an owner, failed with its safe error, still running. */
function fill(registry: TaskRegistry) {
  registry.create({ id: "t-ok", contextId: "ctx", text: "hello", messageId: "m-1", owner: "digest-1" });
  registry.transition("t-ok", "working");
  registry.transition("t-ok", "completed", {
    reply: "hi there",
    usage: { input_tokens: 12, output_tokens: 3, cost_usd: 0.01, model: "m" },
  });
  registry.create({ id: "t-bad", contextId: "ctx", text: "break", messageId: "m-2" });
  registry.transition("t-bad", "failed", {
    error: { code: RPC.TURN_FAILED, message: "the agent failed", data: { outcome: "error" } },
  });
  registry.create({ id: "t-run", contextId: "ctx-2", text: "slow", messageId: "m-3" });
  registry.transition("t-run", "working");
}

describe("task records: a restart", () => {
  it("round trip: ended tasks come back as they were; running ones are failed, interrupted, once", async () => {
    const first = await open().opened;
    fill(first.registry);
    const ok = structuredClone(first.registry.get("t-ok"));
    const bad = structuredClone(first.registry.get("t-bad"));
    const runSequence = first.registry.get("t-run")?.sequence ?? -1;
    await first.store.close();
    expect((await fileLines()).length).toBeGreaterThan(0);

    const { sink, opened } = open();
    const second = await opened;
    expect(second.registry.get("t-ok")).toEqual(ok);
    expect(second.registry.get("t-ok")?.owner).toBe("digest-1");
    expect(second.registry.get("t-ok")?.usage).toEqual({
      input_tokens: 12,
      output_tokens: 3,
      cost_usd: 0.01,
      model: "m",
    });
    expect(second.registry.get("t-bad")).toEqual(bad);
    const run = second.registry.get("t-run");
    expect(run).toMatchObject({
      state: "failed",
      note: { text: INTERRUPTED_TEXT },
      error: { code: RPC.TURN_FAILED, message: INTERRUPTED_TEXT, data: { outcome: "interrupted" } },
      sequence: runSequence + 1,
    });
    expect(second.loaded.interrupted).toBe(1);
    await second.registry.ended("t-run"); // at once
    expect(sink.events()).toContain("tasks.loaded");
    // Rewritten at boot: one line per task, the interrupted one as failed.
    expect((await fileLines()).map((l) => JSON.parse(l).state)).toEqual(["completed", "failed", "failed"]);
    await second.store.close();

    const third = await open().opened; // not interrupted a second time
    expect(third.registry.get("t-run")).toEqual(second.registry.get("t-run"));
    expect(third.loaded.interrupted).toBe(0);
    await third.store.close();
  });

  it("tasks/get and GetTask answer an interrupted task itself: failed, its message, metadata.outcome interrupted", async () => {
    const first = await open().opened;
    fill(first.registry);
    await first.store.close();
    const { service, records } = serviceOn(await open().opened);
    const v03 = json(await handleRpc(rpc("tasks/get", { id: "t-run" }), service));
    expect(v03.error).toBeUndefined();
    expect(v03.result).toMatchObject({
      id: "t-run",
      status: { state: "failed", message: { parts: [{ kind: "text", text: INTERRUPTED_TEXT }] } },
      metadata: { outcome: "interrupted" },
    });
    const v1 = json(await handleRpc(rpc("GetTask", { id: "t-run" }), service));
    expect(v1.error).toBeUndefined();
    expect(JSON.stringify(v1.result)).toContain(INTERRUPTED_TEXT);
    expect(v1.result).toMatchObject({ id: "t-run", metadata: { outcome: "interrupted" } });
    await records.store.close();
  });

  it("a repeated send after a restart answers the stored task; the agent does not run again", async () => {
    const first = serviceOn(await open().opened);
    const started = await first.service.start(send("hello", "m-42"));
    expect(started.ok).toBe(true);
    await first.service.ended("m-42");
    expect(first.runs).toEqual(["hello"]);
    await first.records.store.close();

    const second = serviceOn(await open().opened);
    const again = await second.service.start(send("hello", "m-42"));
    expect(again).toMatchObject({ ok: true, task: { id: "m-42", state: "completed", reply: { text: "echo: hello" } } });
    expect(second.runs).toEqual([]);
    expect(first.errors()).toEqual([]);
    // A new message still runs, and is recorded.
    const other = await second.service.start(send("other", "m-43"));
    expect(other.ok).toBe(true);
    await second.service.ended("m-43");
    expect(second.runs).toEqual(["other"]);
    await second.records.store.close();
    expect((await fileLines()).map((l) => JSON.parse(l).id)).toEqual(["m-42", "m-43"]);
  });
});

describe("task records: group commit", () => {
  it("a change only queues (off the reply path); one flush writes each task's latest state once; close loses nothing", async () => {
    const sink = sinkLogger();
    const records = await openTaskRecords({ stateDir: dir, log: sink.logger, delayMs: 3_600_000 });
    const { registry, store } = records;
    for (const id of ["a", "b"]) {
      registry.create({ id, contextId: "c", text: id, messageId: id });
      registry.transition(id, "working");
      registry.transition(id, "completed", { reply: `re ${id}` });
    }
    await new Promise((r) => setImmediate(r));
    expect(store.stats()).toMatchObject({ flushes: 0, bytesWritten: 0 }); // nothing written yet
    await store.flush();
    expect(store.stats().flushes).toBe(1);
    expect((await fileLines()).map((l) => [JSON.parse(l).id, JSON.parse(l).state])).toEqual([
      ["a", "completed"],
      ["b", "completed"],
    ]);
    registry.create({ id: "c", contextId: "c", text: "c", messageId: "c" });
    await store.close(); // a clean stop writes what is queued
    expect((await fileLines()).map((l) => JSON.parse(l).id)).toEqual(["a", "b", "c"]);
  });
});

describe("task records: a damaged file", () => {
  const line = (id: string, state = "completed") =>
    recordLine({
      id,
      contextId: "ctx",
      user: { messageId: `m-${id}`, text: "hi" },
      state: state as "completed",
      reply: { messageId: `r-${id}`, text: "answer" },
      timestamp: "2026-01-01T00:00:00.000Z",
      createdAt: "2026-01-01T00:00:00.000Z",
      sequence: 2,
    });

  it("a torn last line (a crash mid-append) is skipped with one warning; the good lines are kept", async () => {
    await writeFile(file(), `${line("a")}${line("b")}${line("c").slice(0, 40)}`);
    await writeFile(join(dir, `.${TASKS_FILE}.1234.0123456789ab.tmp`), line("x")); // a compaction a crash cut short
    const { sink, opened } = open();
    const records = await opened;
    expect(records.registry.list().map((t) => t.id)).toEqual(["a", "b"]);
    const warnings = sink.lines.filter((l) => l.level === "warn");
    expect(warnings.map((l) => [l.obj.code, l.obj.torn, l.obj.corrupt])).toEqual([["W_TASKS_FILE_CORRUPT", 1, 0]]);
    expect((await readdir(dir)).filter((f) => f.includes("corrupt") || f.endsWith(".tmp"))).toEqual([]); // nothing worth keeping aside, no temp left
    expect(await fileLines()).toEqual([line("a").trim(), line("b").trim()]); // rewritten clean
    await records.store.close();
  });

  it("a corrupt middle line is skipped and counted; later lines win; the original is kept aside", async () => {
    const original = `${line("a", "working")}{"v":1,"id":"x" NOT JSON\n${line("b")}${line("a")}\n`;
    await writeFile(file(), original);
    const { sink, opened } = open();
    const records = await opened;
    expect(records.registry.list().map((t) => [t.id, t.state])).toEqual([
      ["a", "completed"],
      ["b", "completed"],
    ]);
    expect(records.loaded.interrupted).toBe(0); // a's last line says completed
    const warning = sink.lines.find((l) => l.obj.code === "W_TASKS_FILE_CORRUPT");
    expect(warning?.obj).toMatchObject({ corrupt: 1, torn: 0, firstBadLine: 2, kept: 2 });
    const aside = (await readdir(dir)).filter((f) => f.startsWith(`${TASKS_FILE}.corrupt-`));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0] ?? ""), "utf8")).toBe(original);
    expect((await fileLines()).length).toBe(2);
    await records.store.close();
  });

  it("a file that is not ours: start empty, one warning, the file moved aside, never deleted", async () => {
    const garbage = Buffer.from([0x00, 0xff, 0x10, 0x0a, 0x7b, 0x22, 0x0a, 0x80, 0x81]);
    await writeFile(file(), garbage);
    const { sink, opened } = open();
    const records = await opened;
    expect(records.registry.list()).toEqual([]);
    expect(sink.lines.filter((l) => l.level === "warn").map((l) => l.obj.code)).toEqual(["W_TASKS_FILE_CORRUPT"]);
    const aside = (await readdir(dir)).filter((f) => f.startsWith(`${TASKS_FILE}.corrupt-`));
    expect(await readFile(join(dir, aside[0] ?? ""))).toEqual(garbage);
    // The daemon goes on recording.
    records.registry.create({ id: "new", contextId: "c", text: "x", messageId: "m" });
    await records.store.close();
    expect((await fileLines()).map((l) => JSON.parse(l).id)).toEqual(["new"]);
  });

  it("an unreadable one (a directory in its place): start empty with W_TASKS_FILE_UNREADABLE, moved aside", async () => {
    await mkdir(file());
    const { sink, opened } = open();
    const records = await opened;
    expect(records.registry.list()).toEqual([]);
    expect(sink.lines.find((l) => l.obj.code === "W_TASKS_FILE_UNREADABLE")?.level).toBe("warn");
    expect((await readdir(dir)).some((f) => f.startsWith(`${TASKS_FILE}.corrupt-`))).toBe(true);
    expect((await stat(file())).isFile()).toBe(true);
    await records.store.close();
  });
});

describe("task records: bounded", () => {
  it("after 10,000 tasks the file holds about the live set (compacted), and loads the last RECENT_TASKS", async () => {
    const { opened } = open();
    const records = await opened;
    const { registry, store } = records;
    let maxLines = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = `t-${i}`;
      registry.create({ id, contextId: "ctx", text: `message ${i}`, messageId: id });
      registry.transition(id, "working");
      registry.transition(id, "completed", { reply: `reply ${i} ${"x".repeat(200)}` });
      if (i % 25 === 24) {
        await store.flush(); // a flush every 25 turns (a busy daemon's group commit)
        maxLines = Math.max(maxLines, store.stats().lines);
      }
    }
    await store.close();
    const { lines, bytes, compactions } = store.stats();
    // Twice the live set plus the slack, at most one batch beyond.
    expect(maxLines).toBeLessThanOrEqual(2 * RECENT_TASKS + 100 + 25);
    expect(compactions).toBeGreaterThan(30);
    expect((await stat(file())).size).toBe(bytes);
    expect(bytes).toBeLessThan(400 * 500); // ≤ 400 lines of < 500 bytes
    expect(lines).toBe((await fileLines()).length);

    const t0 = performance.now();
    const again = await open().opened;
    const loadMs = performance.now() - t0;
    expect(again.registry.list().map((t) => t.id)).toEqual(
      Array.from({ length: RECENT_TASKS }, (_, i) => `t-${9_900 + i}`),
    );
    console.log(`10,000 tasks: ${TASKS_FILE} ${bytes} bytes, ${lines} lines, loaded in ${loadMs.toFixed(1)} ms`);
    await again.store.close();
  });
});

describe("task records: a failing state volume keeps serving from memory", () => {
  it.runIf(IS_ROOT)(
    "a full volume (64 KiB tmpfs; root): a torn append is cut back, warned once, rewritten when space is back",
    async () => {
      const volume = await mountSmallVolume(join(dir, "state"));
      const health = createStateDirHealth({ stateDir: volume.dir, log: sinkLogger().logger, retryMs: 3_600_000 });
      try {
        const { sink, opened } = open(volume.dir, { health });
        const records = await opened;
        const { registry, store } = records;
        registry.create({ id: "before", contextId: "c", text: "small", messageId: "m-0" });
        registry.transition("before", "completed", { reply: "ok" });
        await store.flush();
        await volume.fill(); // only the slack of the file's own page is left
        registry.create({ id: "big", contextId: "c", text: "y".repeat(10_000), messageId: "m-1" });
        registry.transition("big", "completed", { reply: "z".repeat(10_000) });
        await store.flush(); // never throws
        expect(registry.get("big")?.state).toBe("completed"); // served from memory
        expect(health.warnings()).toEqual(["state volume failing: task records (ENOSPC)"]);
        // The partial line was cut off: the file still reads clean.
        expect((await fileLines(join(volume.dir, TASKS_FILE))).map((l) => JSON.parse(l).id)).toEqual(["before"]);
        registry.create({ id: "during", contextId: "c", text: "z", messageId: "m-2" });
        registry.transition("during", "completed", { reply: "ok" });
        await store.flush(); // still full: fails again, no second ERROR line
        await volume.free();
        expect(await health.recheck()).toBe(true); // the retry rewrites the live set
        expect(health.warnings()).toEqual([]);
        await store.close();
        const again = await openTaskRecords({ stateDir: volume.dir, log: sink.logger });
        expect(again.registry.list().map((t) => t.id)).toEqual(["before", "big", "during"]);
        expect(again.loaded.torn + again.loaded.corrupt).toBe(0);
        await again.store.close();
      } finally {
        health.stop();
        volume.unmount();
      }
    },
  );

  it.runIf(IS_ROOT)("a read-only volume (EROFS; root): turns go on from memory, the failure is reported", async () => {
    const volume = await mountSmallVolume(join(dir, "state"));
    const health = createStateDirHealth({ stateDir: volume.dir, log: sinkLogger().logger, retryMs: 3_600_000 });
    try {
      const records = await open(volume.dir, { health }).opened;
      execFileSync("mount", ["-o", "remount,ro", volume.dir]);
      records.registry.create({ id: "a", contextId: "c", text: "x", messageId: "m" });
      await records.store.flush();
      expect(health.warnings()).toEqual(["state volume failing: task records (EROFS)"]);
      expect(records.registry.get("a")?.state).toBe("submitted");
      execFileSync("mount", ["-o", "remount,rw", volume.dir]);
      records.registry.transition("a", "completed", { reply: "done" });
      await records.store.close(); // the next change's flush writes everything
      expect(health.warnings()).toEqual([]);
      expect((await fileLines(join(volume.dir, TASKS_FILE))).map((l) => JSON.parse(l).state)).toEqual(["completed"]);
    } finally {
      health.stop();
      volume.unmount();
    }
  });
});

// ---- a service on restored records -------------------------------------------------------------

const rpc = (method: string, params: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
function json(answer: RpcAnswer) {
  if (answer.kind !== "json") throw new Error("expected a JSON answer");
  return answer.response;
}
const send = (text: string, messageId: string) => ({
  text,
  messageId,
  contextId: undefined,
  taskId: undefined,
  blocking: true,
  historyLength: undefined,
});

function serviceOn(records: Awaited<ReturnType<typeof openTaskRecords>>) {
  const sink = sinkLogger();
  const runs: string[] = [];
  const executor: Executor = {
    name: "echo",
    async runTurn({ text }) {
      runs.push(text);
      return { outcome: "ok", text: `echo: ${text}` };
    },
  };
  const turns = createTurnRunner({
    executor,
    timeoutSeconds: 30,
    gate: createPreflightGate({ checks: [] }),
    log: sink.logger,
    metrics: createMetrics(),
    secrets: createSecrets({}),
    tracker: createTaskTracker(),
    stateDirHealth: createStateDirHealth({ stateDir: dir, log: sink.logger }),
  });
  const service = createA2AService({
    turns,
    scheduler: createScheduler({ maxConcurrent: 2, queueSize: 4 }),
    conversations: createConversations({ stateDir: dir, maxContexts: 8, log: sink.logger }),
    log: sink.logger,
    timeoutSeconds: 30,
    streaming: true,
    draining: () => false,
    tasks: records.registry,
  });
  const errors = () => sink.lines.filter((l) => l.level === "error").map((l) => l.obj);
  return { service, runs, records, errors };
}
