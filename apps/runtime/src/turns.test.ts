import { createTaskTracker } from "@molecule/heartbeat";
import { createPreflightGate } from "@molecule/preflight";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Executor, TurnReply, TurnRequest } from "./executor.js";
import { createMetrics } from "./metrics.js";
import { createSecrets } from "./redact.js";
import { createStateDirHealth, type StateDirHealth } from "./state-dir-health.js";
import { ACTIVITY_SUMMARY_CHARS, createTurnRunner } from "./turns.js";

/** An executor that answers each turn with `answer` (a seam: the daemon's built-in ones run an agent). */
function executor(answer: (turn: TurnRequest) => Promise<TurnReply>): Executor & { turns: TurnRequest[] } {
  const turns: TurnRequest[] = [];
  return {
    name: "fake",
    turns,
    runTurn(turn) {
      turns.push(turn);
      return answer(turn);
    },
  };
}

/** The `molecule_turns_total` count for each outcome. */
async function turnCounts(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { labels, value } of (await metrics.turns.get()).values) counts[String(labels.outcome)] = value;
  return counts;
}

let dir = "";
let stateDirHealth: StateDirHealth;
beforeEach(async () => {
  dir = await tempDir("molecule-turns-");
});
afterEach(async () => {
  stateDirHealth?.stop();
  await removeDir(dir);
});

function setup(answer: (turn: TurnRequest) => Promise<TurnReply>, now?: () => number) {
  const sink = sinkLogger();
  const metrics = createMetrics();
  const tracker = createTaskTracker();
  const gate = createPreflightGate({ checks: [] });
  stateDirHealth = createStateDirHealth({ stateDir: dir, log: sink.logger });
  const exec = executor(answer);
  const runner = createTurnRunner({
    executor: exec,
    timeoutSeconds: 30,
    gate,
    log: sink.logger,
    metrics,
    secrets: createSecrets({ ANTHROPIC_API_KEY: "sk-ant-api03-abcdefghijklmnopqrstuvwxyz" }),
    tracker,
    stateDirHealth,
    ...(now ? { now } : {}),
  });
  return { runner, metrics, tracker, gate, sink, exec };
}

const turn = (text: string) => ({ taskId: "t-1", text, signal: new AbortController().signal });

describe("createTurnRunner", () => {
  it("an ok turn reaches the executor once, and is counted once in the metrics, the tracker and the last outcome", async () => {
    const { runner, metrics, tracker, exec, sink } = setup(async (t) => ({ outcome: "ok", text: `echo: ${t.text}` }));
    expect(runner.lastOutcome()).toBeUndefined();
    const reply = await runner.run({ ...turn("hello\nsecond line"), contextId: "ctx-1" });
    expect(reply).toEqual({ outcome: "ok", text: "echo: hello\nsecond line" });
    expect(exec.turns).toHaveLength(1);
    expect(exec.turns[0]).toMatchObject({ taskId: "t-1", contextId: "ctx-1" });
    expect(runner.lastOutcome()).toBe("ok");
    expect(await turnCounts(metrics)).toEqual({ ok: 1 });
    const snap = tracker.snapshot();
    expect(snap.active).toBe(0);
    expect(snap.errorRate).toBe(0);
    expect(sink.events()).toContain("turn.finished");
  });

  it("a failed turn: its outcome, one count, the tracker's error rate and sample error; the gate sees the auth failure", async () => {
    const { runner, metrics, tracker, gate } = setup(async () => ({
      outcome: "auth",
      detail: "Invalid API key · Please run /login",
    }));
    const reply = await runner.run(turn("do it"));
    expect(reply.outcome).toBe("auth");
    expect(runner.lastOutcome()).toBe("auth");
    expect(await turnCounts(metrics)).toEqual({ auth: 1 });
    const snap = tracker.snapshot();
    expect(snap.errorRate).toBeGreaterThan(0);
    expect(snap.sampleError).toBeTruthy();
    const report = await gate.check();
    expect(report.ok).toBe(false);
    expect(report.failures.map((f) => f.code)).toContain("E_AGENT_AUTH_OBSERVED");
  });

  it("an executor that throws is a crash turn, never a rejection; secrets in its message are masked", async () => {
    const { runner, metrics } = setup(async () => {
      throw new Error("boom with sk-ant-api03-abcdefghijklmnopqrstuvwxyz inside");
    });
    const reply = await runner.run(turn("x"));
    expect(reply.outcome).toBe("crash");
    expect(reply.detail).toContain("boom");
    expect(reply.detail).not.toContain("abcdefghijklmnopqrstuvwxyz");
    expect(await turnCounts(metrics)).toEqual({ crash: 1 });
  });

  it("progress notes are masked and handed on", async () => {
    const { runner } = setup(async (t) => {
      t.progress("retry 1/10 with key sk-ant-api03-abcdefghijklmnopqrstuvwxyz");
      return { outcome: "ok", text: "done" };
    });
    const notes: string[] = [];
    await runner.run({ ...turn("x"), onProgress: (note) => notes.push(note) });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("retry 1/10");
    expect(notes[0]).not.toContain("abcdefghijklmnopqrstuvwxyz");
  });

  it("progress is logged at most once a second per turn, one INFO line per turn; every note is handed on", async () => {
    let clock = 0;
    const { runner, sink } = setup(
      async (t) => {
        for (let i = 1; i <= 1_000; i += 1) {
          clock += 5; // 1 000 notes over 5 s
          t.progress(`model API retry ${i}`);
        }
        return { outcome: "ok", text: "done" };
      },
      () => clock,
    );
    const notes: string[] = [];
    await runner.run({ ...turn("x"), onProgress: (note) => notes.push(note) });
    expect(notes).toHaveLength(1_000);
    const progress = sink.lines.filter((l) => l.obj.event === "turn.progress");
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.length).toBeLessThanOrEqual(6);
    expect(progress.filter((l) => l.level === "info")).toHaveLength(1);
    expect(progress[0]).toMatchObject({ level: "info", obj: { note: "model API retry 1" } });
    expect(progress[1]).toMatchObject({ level: "debug", obj: { note: "model API retry 201", skipped: 199 } });
    const finished = sink.lines.find((l) => l.obj.event === "turn.finished");
    expect(finished?.obj).toMatchObject({ progressNotes: 1_000 });
  });

  it("notRun: busy is counted and becomes the last outcome; a cancelled queued turn is only counted", async () => {
    const { runner, metrics, exec } = setup(async () => ({ outcome: "ok", text: "" }));
    runner.notRun("busy");
    expect(runner.lastOutcome()).toBe("busy");
    runner.notRun("cancelled");
    expect(runner.lastOutcome()).toBe("busy");
    expect(await turnCounts(metrics)).toEqual({ busy: 1, cancelled: 1 });
    expect(exec.turns).toHaveLength(0);
  });
});

describe("usage and activity", () => {
  const KEY = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz";

  it("counts a turn's tokens by kind, model and outcome, its cost, and keeps it as the last usage", async () => {
    const usage = {
      input_tokens: 100,
      output_tokens: 20,
      cache_read_input_tokens: 300,
      cache_creation_input_tokens: 40,
      cost_usd: 0.25,
      model: "claude-test",
    };
    const { runner, metrics } = setup(async () => ({ outcome: "ok", text: "done", usage }));
    expect(runner.lastUsage()).toBeUndefined();
    await runner.run(turn("one"));
    await runner.run(turn("two"));
    const tokens = (await metrics.tokens.get()).values.map((v) => [
      v.labels.kind,
      v.labels.model,
      v.labels.outcome,
      v.value,
    ]);
    expect(tokens).toEqual(
      expect.arrayContaining([
        ["input", "claude-test", "ok", 200],
        ["output", "claude-test", "ok", 40],
        ["cache_read", "claude-test", "ok", 600],
        ["cache_creation", "claude-test", "ok", 80],
      ]),
    );
    const cost = (await metrics.costUsd.get()).values;
    expect(cost).toEqual([expect.objectContaining({ labels: { model: "claude-test", outcome: "ok" }, value: 0.5 })]);
    expect(runner.lastUsage()).toEqual(usage);
  });

  it("a turn that reports no usage clears the last usage, and a model with no name counts as unknown", async () => {
    let answer: TurnReply = { outcome: "agent-error", usage: { input_tokens: 5, output_tokens: 0 } };
    const { runner, metrics } = setup(async () => answer);
    await runner.run(turn("one"));
    expect(runner.lastUsage()).toEqual({ input_tokens: 5, output_tokens: 0 });
    const values = (await metrics.tokens.get()).values;
    expect(values).toEqual([
      expect.objectContaining({ labels: { kind: "input", model: "unknown", outcome: "agent-error" }, value: 5 }),
    ]);
    answer = { outcome: "ok", text: "x" };
    await runner.run(turn("two"));
    expect(runner.lastUsage()).toBeUndefined();
  });

  it("an activity's input and output are cut to ACTIVITY_SUMMARY_CHARS and masked before they leave", async () => {
    const seen: unknown[] = [];
    const { runner } = setup(async (t) => {
      t.activity?.({ kind: "tool_call", tool: "Bash", id: "toolu_1", input: { command: `echo ${KEY}` } });
      t.activity?.({ kind: "tool_result", id: "toolu_1", output: "x".repeat(5_000), error: true });
      t.activity?.({ kind: "thinking", text: `thinking about ${KEY}` });
      return { outcome: "ok", text: "done" };
    });
    await runner.run({ ...turn("go"), onActivity: (a) => seen.push(a) });
    expect(seen).toHaveLength(3);
    const [call, result, thinking] = seen as Array<{ summary: string; kind: string; tool?: string; error?: boolean }>;
    expect(call).toMatchObject({ kind: "tool_call", tool: "Bash", id: "toolu_1" });
    expect(call?.summary).toContain("echo ");
    expect(JSON.stringify(seen)).not.toContain(KEY);
    expect(result).toMatchObject({ kind: "tool_result", error: true });
    expect(result?.summary.startsWith("x".repeat(ACTIVITY_SUMMARY_CHARS))).toBe(true);
    expect(result?.summary).toContain("(4000 more characters)");
    expect(thinking).toMatchObject({ kind: "thinking" });
  });
});
