import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { createSessionStore, type SessionStore } from "@molecule/session";
import { type LogSink, realAgentBin, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import {
  type FakeOpenAiResponses,
  type ResponsesApiMode,
  type ResponsesApiRequest,
  startFakeOpenAiResponses,
} from "@molecule/testkit";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Executor, TurnActivity, TurnReply } from "../executor.js";
import type { AgentExecutorOptions } from "./agent-options.js";
import { createCodexExecutor } from "./codex.js";

// The real, pinned Codex CLI (installed into a cache on first use) against the testkit's fake
// OpenAI Responses API, in temp dirs: the whole executor, no mocks.

const REPLY = "Hello from the fake Responses API, via the executor.";
const TURN_TIMEOUT = 60_000;
/** Codex 0.169.0's default model: its tools include `exec` (an unknown model name gets another tool set). */
const CODEX_DEFAULT_MODEL = "gpt-6.1-sol";

let bin = "";
beforeAll(async () => {
  bin = await realAgentBin("codex");
}, 600_000);

let dir = "";
let fake: FakeOpenAiResponses | undefined;
let sink: LogSink;
const pgids: number[] = [];

beforeEach(async () => {
  dir = await tempDir("molecule-codex-");
  await mkdir(join(dir, "work"));
  sink = sinkLogger();
  pgids.length = 0;
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await removeDir(dir);
});

async function startFake(mode: ResponsesApiMode = "ok"): Promise<FakeOpenAiResponses> {
  fake = await startFakeOpenAiResponses({ mode, reply: REPLY });
  return fake;
}

function executor(
  baseUrl: string,
  overrides: Partial<AgentExecutorOptions> = {},
): {
  executor: Executor;
  store: SessionStore;
} {
  const store = createSessionStore({ file: join(dir, "state", "session.json") });
  const executor = createCodexExecutor({
    command: bin,
    cwd: join(dir, "work"),
    env: { ...process.env, CODEX_API_KEY: "sk-test-codex" },
    home: join(dir, "agents", "codex"),
    tmpDir: join(dir, "tmp", "codex"),
    sessionStore: store,
    timeoutMs: TURN_TIMEOUT - 10_000,
    baseUrl,
    logger: sink.logger,
    groups: { started: (pgid) => pgids.push(pgid), ended: () => undefined },
    rateLimitRetries: 0,
    killGraceMs: 1_000,
    ...overrides,
  });
  return { executor, store };
}

async function turn(
  e: Executor,
  text: string,
  notes: string[] = [],
  activities: TurnActivity[] = [],
): Promise<TurnReply> {
  return e.runTurn({
    taskId: `t-${Date.now()}`,
    text,
    signal: new AbortController().signal,
    progress: (note) => notes.push(note),
    activity: (event) => activities.push(event),
  });
}

/** The usage the fake reported for these requests, summed (Codex adds up a turn's requests). */
const reported = (requests: readonly ResponsesApiRequest[]) => ({
  input_tokens: requests.reduce((sum, r) => sum + (r.usage?.input_tokens ?? 0), 0),
  output_tokens: requests.reduce((sum, r) => sum + (r.usage?.output_tokens ?? 0), 0),
});

/** Rollout files under `$CODEX_HOME/sessions`. */
async function rollouts(): Promise<string[]> {
  const root = join(dir, "agents", "codex", "sessions");
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((f) => /rollout-.*\.jsonl$/.test(f)).map((f) => join(root, f));
}

/** Live processes whose process group is `pgid`. */
function processesInGroup(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

const texts = (f: FakeOpenAiResponses, role: string) =>
  (f.responses().at(-1)?.messages ?? []).filter((m) => m.role === role).map((m) => m.text);

describe("the Codex executor, with the real CLI against the fake Responses API", () => {
  it(
    "a turn answers, and the next turn resumes the thread: the model request carries turn 1",
    async () => {
      const api = await startFake();
      const { executor: e, store } = executor(api.url);
      expect(await turn(e, "Turn one: remember the word PAPAYA.")).toMatchObject({ outcome: "ok", text: REPLY });
      const thread = await store.get();
      expect(thread).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      expect(await rollouts()).toHaveLength(1);
      expect(texts(api, "user").some((t) => t.includes("PAPAYA"))).toBe(true);
      expect(api.responses().at(-1)?.headers.authorization).toBe("***"); // CODEX_API_KEY was sent

      expect(await turn(e, "Turn two: which word?")).toMatchObject({ outcome: "ok", text: REPLY });
      expect(await store.get()).toBe(thread);
      expect(await rollouts()).toHaveLength(1);
      const users = texts(api, "user");
      expect(users.some((t) => t.includes("PAPAYA"))).toBe(true);
      expect(users.some((t) => t.includes("Turn two"))).toBe(true);
      expect(texts(api, "assistant")).toContain(REPLY);
    },
    TURN_TIMEOUT,
  );

  it(
    "the model's tool call runs (read-only sandbox) and streams as a tool call and its result; each turn's usage is its own, a resumed turn after a restart too",
    async () => {
      await writeFile(join(dir, "work", "notes.txt"), "KIWI-42\n");
      // The shell is Codex's `exec` tool (JavaScript calling tools.exec_command) in 0.169.0.
      fake = await startFakeOpenAiResponses({
        reply: (r) =>
          r.toolOutputs.length === 0
            ? {
                toolCall: {
                  type: "custom_tool_call",
                  name: "exec",
                  input: 'const r = await tools.exec_command({cmd: "cat notes.txt"}); text(r.output);',
                },
              }
            : REPLY,
      });
      const activities: TurnActivity[] = [];
      const first = await turn(
        executor(fake.url, { model: CODEX_DEFAULT_MODEL }).executor,
        "Read notes.txt.",
        [],
        activities,
      );
      expect(first).toMatchObject({ outcome: "ok", text: REPLY });
      expect(activities).toEqual([
        { kind: "tool_call", tool: "shell", id: expect.any(String), input: expect.stringContaining("cat notes.txt") },
        { kind: "tool_result", tool: "shell", id: expect.any(String), output: expect.stringContaining("KIWI-42") },
      ]);
      const turnOne = fake.responses();
      expect(turnOne).toHaveLength(2);
      expect(turnOne[1]?.toolOutputs[0]?.output).toContain("KIWI-42");
      expect(first.usage).toEqual({
        ...reported(turnOne),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
        model: CODEX_DEFAULT_MODEL,
      });

      // A restart (a new executor) and the resumed turn: its usage counts its own request only,
      // though Codex reports the thread's total.
      const second = await turn(executor(fake.url).executor, "And now?");
      expect(second).toMatchObject({ outcome: "ok", text: REPLY });
      const turnTwo = fake.responses().slice(2);
      expect(turnTwo).toHaveLength(1);
      expect(turnTwo[0]?.messages.some((m) => m.text.includes("Read notes.txt."))).toBe(true); // resumed
      expect(second.usage).toEqual({
        ...reported(turnTwo),
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      });
    },
    TURN_TIMEOUT,
  );

  it(
    "the model's reasoning summary streams as thinking, not in the answer",
    async () => {
      fake = await startFakeOpenAiResponses({ reply: () => ({ reasoning: "**Weighing** PAPAYA", text: REPLY }) });
      const activities: TurnActivity[] = [];
      const reply = await turn(executor(fake.url).executor, "Think first.", [], activities);
      expect(reply).toMatchObject({ outcome: "ok", text: REPLY });
      expect(activities).toEqual([{ kind: "thinking", text: "**Weighing** PAPAYA" }]);
    },
    TURN_TIMEOUT,
  );

  it(
    "a model that asks the user a question, or to run a command outside the sandbox, fails the turn at once with a safe error",
    async () => {
      const ask = {
        toolCall: {
          name: "request_user_input",
          input: { questions: [{ header: "Pick", id: "pick", question: "Which file?" }] },
        },
      };
      const escalate = {
        toolCall: {
          type: "custom_tool_call" as const,
          name: "exec",
          input:
            'const r = await tools.exec_command({cmd: "touch out.txt", sandbox_permissions: "require_escalated", justification: "write"}); text(JSON.stringify(r));',
        },
      };
      for (const [call, error] of [
        [ask, /^the agent stopped to ask the user a question \(request_user_input\)/],
        [escalate, /^the agent stopped to ask for approval to run a command outside its sandbox/],
      ] as const) {
        await fake?.close();
        fake = await startFakeOpenAiResponses({
          reply: (r) => (r.toolOutputs.length === 0 ? call : "I need your answer first."),
        });
        const started = Date.now();
        const reply = await turn(executor(fake.url).executor, "Do it.");
        expect(reply.outcome).toBe("agent-error");
        expect(reply.error).toMatch(error);
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(fake.responses()).toHaveLength(2); // Codex refused at once and told the model
      }
    },
    TURN_TIMEOUT,
  );

  it(
    "a deleted rollout costs the caller nothing: the turn runs in a new thread",
    async () => {
      const api = await startFake();
      const { executor: e, store } = executor(api.url);
      expect((await turn(e, "Turn one: remember MANGO.")).outcome).toBe("ok");
      const first = await store.get();
      for (const file of await rollouts()) await rm(file);

      expect(await turn(e, "Turn two after the rollout is gone.")).toMatchObject({ outcome: "ok", text: REPLY });
      const second = await store.get();
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
      expect(texts(api, "user").some((t) => t.includes("MANGO"))).toBe(false);
    },
    TURN_TIMEOUT,
  );

  it(
    "Codex reporting the thread missing (the gate saw a rollout, Codex did not) retries once in a new thread",
    async () => {
      const api = await startFake();
      const { executor: e, store } = executor(api.url);
      expect((await turn(e, "Turn one.")).outcome).toBe("ok");
      const [rollout] = await rollouts();
      // A rollout the gate accepts but Codex cannot read as a thread: resume fails with "no rollout found".
      if (!rollout) throw new Error("no rollout");
      await writeFile(rollout, "not a rollout\n");
      const before = api.responses().length;

      const reply = await turn(e, "Turn two.");
      expect(reply).toMatchObject({ outcome: "ok", text: REPLY });
      expect(api.responses().length).toBe(before + 1);
      expect(sink.events()).toContain("session.dropped_after_failure");
      expect(await store.get()).toMatch(/^[0-9a-f-]{36}$/);
    },
    TURN_TIMEOUT,
  );

  it(
    "the workspace's prompt files reach the model as developer instructions, and effort max is xhigh",
    async () => {
      const api = await startFake();
      const { executor: e } = executor(api.url, {
        systemPrompt: 'You are "Molly", the MOLECULE-PROMPT-7 agent.\nAnswer briefly.',
        effort: "max",
        model: "gpt-fake-1",
      });
      expect((await turn(e, "hi")).outcome).toBe("ok");
      expect(texts(api, "developer").some((t) => t.includes('You are "Molly", the MOLECULE-PROMPT-7 agent.'))).toBe(
        true,
      );
      const body = api.responses().at(-1)?.body as { model?: string; reasoning?: { effort?: string } };
      expect(body.model).toBe("gpt-fake-1");
      expect(body.reasoning?.effort).toBe("xhigh");
    },
    TURN_TIMEOUT,
  );

  it(
    "a model API 401 is outcome auth, within seconds",
    async () => {
      const api = await startFake("status:401");
      const { executor: e, store } = executor(api.url);
      const started = Date.now();
      const reply = await turn(e, "hi");
      expect(reply.outcome).toBe("auth");
      expect(reply.detail).toMatch(/401 Unauthorized/);
      expect(reply.detail).not.toContain("sk-test-codex");
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await store.get()).toBeUndefined();
    },
    TURN_TIMEOUT,
  );

  it(
    "a failing model API is retried by Codex a bounded number of times, each retry reported as progress",
    async () => {
      const api = await startFake("status:500");
      const { executor: e } = executor(api.url);
      const notes: string[] = [];
      const started = Date.now();
      const reply = await turn(e, "hi", notes);
      expect(reply.outcome).toBe("rate-limited");
      expect(notes).toEqual(["model API retry 1", "model API retry 2"]);
      expect(api.responses().length).toBe(6); // (1 + request retries) × (1 + stream retries)
      expect(Date.now() - started).toBeLessThan(15_000);
    },
    TURN_TIMEOUT,
  );

  it(
    "nothing listening at the base URL: the turn ends within its timeout and no process of the group is left",
    async () => {
      const port = await closedPort();
      const { executor: e } = executor(`http://127.0.0.1:${port}/v1`, { timeoutMs: 8_000 });
      const started = Date.now();
      const reply = await turn(e, "hi");
      expect(["timeout", "agent-error"]).toContain(reply.outcome);
      expect(Date.now() - started).toBeLessThan(8_000 + 3_000);
      expect(pgids.length).toBeGreaterThan(0);
      for (const pgid of pgids) expect(processesInGroup(pgid)).toEqual([]);
    },
    TURN_TIMEOUT,
  );

  it(
    "a model API that never answers: the turn times out and the whole process group is killed",
    async () => {
      const api = await startFake("hang");
      const { executor: e } = executor(api.url, { timeoutMs: 4_000 });
      const started = Date.now();
      expect(await turn(e, "hi")).toEqual({ outcome: "timeout" });
      expect(Date.now() - started).toBeLessThan(4_000 + 4_000);
      expect(api.responses().length).toBe(1);
      expect(pgids).toHaveLength(1);
      for (const pgid of pgids) expect(processesInGroup(pgid)).toEqual([]);
    },
    TURN_TIMEOUT,
  );

  it(
    "an empty response (exit 0, no message) is a failed turn",
    async () => {
      const api = await startFake("empty");
      const { executor: e, store } = executor(api.url);
      const reply = await turn(e, "hi");
      expect(reply.outcome).toBe("agent-error");
      expect(reply.detail).toMatch(/empty answer/);
      expect(await store.get()).toBeUndefined();
    },
    TURN_TIMEOUT,
  );
});
