import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSessionStore, type SessionStore } from "@molecule/session";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TurnRequest } from "../executor.js";
import { classifyRun, createStreamReader, type RunVerdict, runReader } from "./classify.js";
import { type CliAgentSpec, createCliAgentExecutor, type RunPlan } from "./cli-agent.js";
import { cutMarker } from "./reply-cap.js";

// The shared runner with a real child process as the "CLI": a node script that prints the verdict
// it is told to (a queue in a file), and records its argv. The spec reads that line back.

const FAKE_CLI = String.raw`
const fs = require("node:fs");
const [queue, calls] = [process.env.QUEUE, process.env.CALLS];
const lines = fs.readFileSync(queue, "utf8").split("\n").filter(Boolean);
const next = lines.shift() ?? '{"kind":"agent-error","detail":"queue empty"}';
fs.writeFileSync(queue, lines.join("\n"));
fs.appendFileSync(calls, JSON.stringify(process.argv.slice(1)) + "\n");
process.stdout.write(next + "\n");
`;

let dir: string;
let store: SessionStore;
const calls: () => Promise<string[][]> = async () =>
  (await readFile(join(dir, "calls"), "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as string[]);

beforeEach(async () => {
  dir = await tempDir("molecule-cli-agent-");
  await mkdir(join(dir, "home"), { recursive: true });
  await writeFile(join(dir, "cli.cjs"), FAKE_CLI);
  store = createSessionStore({ file: join(dir, "session.json") });
});
afterEach(() => removeDir(dir));

function executor(verdicts: RunVerdict[], extra: Partial<CliAgentSpec> = {}) {
  const plans: RunPlan[] = [];
  const spec: CliAgentSpec = {
    name: "fake-agent",
    // A codex-shaped session gate: a rollout under <home>/sessions must exist for an id to be resumed.
    session: { agent: "codex", cwd: dir, home: join(dir, "home") },
    args(plan) {
      plans.push(plan);
      return [join(dir, "cli.cjs"), ...(plan.resume ? ["resume", plan.resume] : [])];
    },
    // The reader keeps the last line only: the verdict the fake CLI printed.
    read() {
      let last = "{}";
      return {
        line: (text) => {
          if (text.trim()) last = text;
        },
        verdict: () => JSON.parse(last) as RunVerdict,
      };
    },
    ...extra,
  };
  const run = createCliAgentExecutor(spec, {
    command: process.execPath,
    cwd: dir,
    env: { ...process.env, QUEUE: join(dir, "queue"), CALLS: join(dir, "calls") },
    sessionStore: store,
    timeoutMs: 30_000,
    rateLimitBackoffMs: 1,
  });
  return {
    plans,
    async turn(): Promise<ReturnType<typeof run.runTurn>> {
      await writeFile(join(dir, "queue"), verdicts.map((v) => JSON.stringify(v)).join("\n"));
      const request: TurnRequest = {
        taskId: "t1",
        text: "hi",
        signal: new AbortController().signal,
        progress: () => undefined,
      };
      return run.runTurn(request);
    },
  };
}

const THREAD = "019aa3c7-799f-7ef1-ae76-42ca9ad87d58";

async function plantRollout(id: string): Promise<void> {
  const day = join(dir, "home", "sessions", "2025", "11", "21");
  await mkdir(day, { recursive: true });
  await writeFile(join(day, `rollout-2025-11-21T10-00-00-${id}.jsonl`), '{"type":"session_meta"}\n');
}

describe("createCliAgentExecutor", () => {
  it("an ok turn records the agent's session id; the next turn resumes it while its transcript exists", async () => {
    const first = executor([{ kind: "ok", text: "hello", sessionId: THREAD }]);
    expect(await first.turn()).toEqual({ outcome: "ok", text: "hello" });
    expect(await store.get()).toBe(THREAD);
    await plantRollout(THREAD);
    const second = executor([{ kind: "ok", text: "again", sessionId: THREAD }]);
    expect((await second.turn()).text).toBe("again");
    expect(second.plans).toEqual([{ resume: THREAD, fresh: undefined }]);
  });

  it("a session the agent reports missing is forgotten and the turn retried once, fresh: the caller sees ok", async () => {
    await store.set(THREAD);
    await plantRollout(THREAD);
    const x = executor([{ kind: "session-missing" }, { kind: "ok", text: "fresh", sessionId: "new-id-0001" }]);
    expect(await x.turn()).toEqual({ outcome: "ok", text: "fresh" });
    expect(x.plans.map((p) => p.resume)).toEqual([THREAD, undefined]);
    expect(await store.get()).toBe("new-id-0001");
  });

  it("an agent that takes a new session's id up front gets one per fresh run; an id clash retries with another", async () => {
    let n = 0;
    const ids = () => `aaaaaaaa-0000-4000-8000-00000000000${++n}`;
    const x = executor([{ kind: "session-missing" }, { kind: "ok", text: "hi" }], { newSessionId: ids });
    expect(await x.turn()).toEqual({ outcome: "ok", text: "hi" });
    expect(x.plans.map((p) => p.fresh)).toEqual([
      "aaaaaaaa-0000-4000-8000-000000000001",
      "aaaaaaaa-0000-4000-8000-000000000002",
    ]);
    expect(await store.get()).toBe("aaaaaaaa-0000-4000-8000-000000000002"); // the run's own id, recorded
  });

  it("a conversation that outgrew the context window fails once with a clear error, then starts anew", async () => {
    await store.set(THREAD);
    await plantRollout(THREAD);
    const x = executor([{ kind: "context-full", detail: "ran out of room" }]);
    const reply = await x.turn();
    expect(reply.outcome).toBe("agent-error");
    expect(reply.error).toContain("next message starts a new conversation");
    expect(await store.get()).toBeUndefined();
  });

  it("the verdict's usage reaches the reply whatever the outcome; an agent error's safe error reaches the caller", async () => {
    const usage = { input_tokens: 12, output_tokens: 3, cost_usd: 0.5, model: "m" };
    expect(await executor([{ kind: "ok", text: "hi", usage }]).turn()).toEqual({ outcome: "ok", text: "hi", usage });
    const failed = await executor([
      { kind: "agent-error", detail: "log only", error: "tell the caller", usage },
    ]).turn();
    expect(failed).toEqual({ outcome: "agent-error", detail: "log only", error: "tell the caller", usage });
  });

  it("a retryable rate limit is retried twice (with backoff), then reported", async () => {
    const x = executor([
      { kind: "rate-limited", retryable: true, detail: "429" },
      { kind: "rate-limited", retryable: true, detail: "429" },
      { kind: "rate-limited", retryable: true, detail: "429" },
    ]);
    expect((await x.turn()).outcome).toBe("rate-limited");
    expect(await calls()).toHaveLength(3); // the first run and two retries
  });

  it("reads the whole output: an answer after MBs is found; one past max_reply_bytes is cut, with one WARN", async () => {
    // A Claude-shaped agent: 4 MB of tool output (one long line and many short ones), then a 100 kB result.
    const script = String.raw`
      const w = (s) => new Promise((r) => (process.stdout.write(s) ? r() : process.stdout.once("drain", r)));
      const tool = (c) => JSON.stringify({ type: "user", message: { content: [{ type: "tool_result", content: c }] } }) + "\n";
      (async () => {
        await w(tool("x".repeat(2000000)));
        for (let i = 0; i < 2000; i++) await w(tool("y".repeat(1000)));
        await w(JSON.stringify({ type: "result", is_error: false, result: "SECRET-ANSWER " + "a".repeat(100000), session_id: "session-big-1" }) + "\n");
      })();`;
    const sink = sinkLogger();
    const matchers = { isAuthFailureText: () => false, isMissingSessionError: () => false };
    const run = createCliAgentExecutor(
      {
        name: "claude-shaped",
        session: { agent: "codex", cwd: dir, home: join(dir, "home") },
        args: () => ["-e", script],
        read: (max) => runReader(createStreamReader(max), (r, facts) => classifyRun(r, matchers, facts)),
      },
      {
        command: process.execPath,
        cwd: dir,
        env: process.env,
        sessionStore: store,
        timeoutMs: 30_000,
        logger: sink.logger,
        maxReplyBytes: 4_096,
      },
    );
    const reply = await run.runTurn({
      taskId: "t-big",
      text: "hi",
      signal: new AbortController().signal,
      progress: () => undefined,
    });
    expect(reply.outcome).toBe("ok");
    expect(reply.text?.startsWith("SECRET-ANSWER aaa")).toBe(true);
    expect(reply.text?.endsWith(cutMarker(4_096))).toBe(true);
    expect(Buffer.byteLength(reply.text ?? "")).toBeLessThanOrEqual(4_096);
    expect(await store.get()).toBe("session-big-1");
    const warns = sink.lines.filter((l) => l.obj.event === "turn.reply_cut");
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ level: "warn", obj: { taskId: "t-big", maxReplyBytes: 4_096 } });
    expect(sink.text()).not.toContain("SECRET-ANSWER");
  });
});
