import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { createSessionStore, type SessionStore } from "@molecule/session";
import { type LogSink, realAgentBin, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { type FakeGeminiApi, type GeminiApiMode, type GeminiApiRequest, startFakeGeminiApi } from "@molecule/testkit";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Executor, TurnActivity, TurnReply } from "../executor.js";
import type { AgentExecutorOptions } from "./agent-options.js";
import { createGeminiCliExecutor } from "./gemini-cli.js";

// The real, pinned Gemini CLI (installed into a cache on first use) against the testkit's fake
// Gemini API, in temp dirs: the whole executor, no mocks.

const REPLY = "Hello from the fake Gemini API, via the executor.";
const TURN_TIMEOUT = 60_000;
const API_KEY = "gm-test-key-7f3a";

let bin = "";
beforeAll(async () => {
  bin = await realAgentBin("gemini-cli");
}, 600_000);

let dir = "";
let fake: FakeGeminiApi | undefined;
let sink: LogSink;
const pgids: number[] = [];

beforeEach(async () => {
  dir = await tempDir("molecule-gemini-");
  await mkdir(join(dir, "work"));
  sink = sinkLogger();
  pgids.length = 0;
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await removeDir(dir);
});

async function startFake(mode: GeminiApiMode = "ok"): Promise<FakeGeminiApi> {
  fake = await startFakeGeminiApi({ mode, reply: REPLY });
  return fake;
}

const home = () => join(dir, "agents", "gemini");

function executor(
  baseUrl: string,
  overrides: Partial<AgentExecutorOptions> = {},
): { executor: Executor; store: SessionStore } {
  const store = createSessionStore({ file: join(dir, "state", "session.json") });
  const executor = createGeminiCliExecutor({
    command: bin,
    cwd: join(dir, "work"),
    env: { ...process.env, GEMINI_API_KEY: API_KEY },
    home: home(),
    tmpDir: join(dir, "tmp", "gemini"),
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

async function turn(e: Executor, text: string, activities: TurnActivity[] = []): Promise<TurnReply> {
  return e.runTurn({
    taskId: `t-${Date.now()}`,
    text,
    signal: new AbortController().signal,
    progress: () => undefined,
    activity: (event) => activities.push(event),
  });
}

/** The usage the fake reported for these requests, summed (the CLI adds up a run's requests). */
const reported = (requests: readonly GeminiApiRequest[]) => ({
  input_tokens: requests.reduce((sum, r) => sum + (r.usage?.promptTokenCount ?? 0), 0),
  output_tokens: requests.reduce((sum, r) => sum + (r.usage?.candidatesTokenCount ?? 0), 0),
});

/** Chat files under `$GEMINI_CLI_HOME/.gemini/tmp/<project>/chats`. */
async function chats(): Promise<string[]> {
  const root = join(home(), ".gemini", "tmp");
  const entries = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((f) => /chats\/session-.*\.jsonl$/.test(f)).map((f) => join(root, f));
}

/** Live processes whose process group is `pgid`. */
function processesInGroup(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
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

/** The texts of one role in the last turn request (`:streamGenerateContent`). */
const texts = (f: FakeGeminiApi, role: string) =>
  (
    f
      .generations()
      .filter((r) => r.stream)
      .at(-1)?.messages ?? []
  )
    .filter((m) => m.role === role)
    .map((m) => m.text);

describe("the Gemini CLI executor, with the real CLI against the fake Gemini API", () => {
  it(
    "the model's function call runs and streams as a tool call and its result; each turn's usage is the run's own, a resumed turn too",
    async () => {
      await writeFile(join(dir, "work", "notes.txt"), "KIWI-42\n");
      fake = await startFakeGeminiApi({
        reply: (r) =>
          r.functionResponses.length === 0
            ? { functionCall: { name: "read_file", args: { file_path: "notes.txt" } } }
            : REPLY,
      });
      // `-m` skips the model router: every request is the turn's.
      const { executor: e } = executor(fake.url, { model: "gemini-2.5-flash" });
      const activities: TurnActivity[] = [];
      const first = await turn(e, "Read notes.txt.", activities);
      expect(first).toMatchObject({ outcome: "ok", text: REPLY });
      expect(activities).toEqual([
        { kind: "tool_call", tool: "read_file", id: expect.any(String), input: { file_path: "notes.txt" } },
        { kind: "tool_result", tool: "read_file", id: activities[0]?.kind === "tool_call" ? activities[0].id : "?" },
      ]);
      const turnOne = fake.generations();
      expect(turnOne).toHaveLength(2);
      expect(JSON.stringify(turnOne[1]?.functionResponses)).toContain("KIWI-42");
      expect(first.usage).toEqual({ ...reported(turnOne), cache_read_input_tokens: 0, model: "gemini-2.5-flash" });

      const second = await turn(e, "And now?");
      expect(second).toMatchObject({ outcome: "ok", text: REPLY });
      const turnTwo = fake.generations().slice(2);
      expect(turnTwo).toHaveLength(1);
      expect(turnTwo[0]?.messages.some((m) => m.text.includes("Read notes.txt."))).toBe(true); // resumed
      expect(second.usage).toEqual({ ...reported(turnTwo), cache_read_input_tokens: 0, model: "gemini-2.5-flash" });
    },
    TURN_TIMEOUT,
  );

  it(
    "the model's thought parts stay out of the answer and the activities (stream-json carries none)",
    async () => {
      fake = await startFakeGeminiApi({ reply: () => ({ thought: "**Weighing** PAPAYA", text: REPLY }) });
      const activities: TurnActivity[] = [];
      const reply = await turn(executor(fake.url, { model: "gemini-2.5-flash" }).executor, "Think first.", activities);
      expect(reply).toMatchObject({ outcome: "ok", text: REPLY });
      expect(activities).toEqual([]);
    },
    TURN_TIMEOUT,
  );

  it(
    "a turn answers, and the next turn resumes the session: the model request carries turn 1",
    async () => {
      const api = await startFake();
      const { executor: e, store } = executor(api.url, {
        systemPrompt: "You are MOLECULE-PROMPT-7. Answer briefly.",
      });
      expect(await turn(e, "Turn one: remember the word PAPAYA.")).toMatchObject({ outcome: "ok", text: REPLY });
      const session = await store.get();
      expect(session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/); // the id the daemon picked
      expect(await chats()).toHaveLength(1);
      const first = api
        .generations()
        .filter((r) => r.stream)
        .at(-1);
      expect(first?.headers["x-goog-api-key"]).toBe("***"); // GEMINI_API_KEY was sent
      // The workspace's prompt files reach the system instruction (appended, the CLI's own kept).
      expect(JSON.stringify(first?.body)).toContain("MOLECULE-PROMPT-7");

      expect(await turn(e, "Turn two: which word?")).toMatchObject({ outcome: "ok", text: REPLY });
      expect(await store.get()).toBe(session);
      expect(await chats()).toHaveLength(1);
      const users = texts(api, "user");
      expect(users.some((t) => t.includes("PAPAYA"))).toBe(true);
      expect(users.some((t) => t.includes("Turn two"))).toBe(true);
      expect(texts(api, "model")).toContain(REPLY);

      // The daemon's settings are in its own home, mode 0600, and no key is written anywhere.
      const settingsFile = join(home(), ".gemini", "settings.json");
      expect(JSON.parse(await readFile(settingsFile, "utf8"))).toMatchObject({
        general: { maxAttempts: 2 },
        security: { auth: { selectedType: "gemini-api-key" } },
      });
      expect((await stat(settingsFile)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dir, "tmp", "gemini"))).mode & 0o777).toBe(0o700);
      const files = await readdir(dir, { recursive: true });
      for (const file of files) {
        const path = join(dir, file);
        if (!(await stat(path)).isFile()) continue;
        expect(await readFile(path, "utf8"), path).not.toContain(API_KEY);
      }
    },
    TURN_TIMEOUT,
  );

  it(
    "a deleted chat file costs the caller nothing: the turn runs in a new session",
    async () => {
      const api = await startFake();
      const { executor: e, store } = executor(api.url, { model: "gemini-2.5-flash" });
      expect((await turn(e, "Turn one: remember MANGO.")).outcome).toBe("ok");
      const first = await store.get();
      for (const file of await chats()) await rm(file);

      expect(await turn(e, "Turn two after the chat file is gone.")).toMatchObject({ outcome: "ok", text: REPLY });
      const second = await store.get();
      expect(second).toMatch(/^[0-9a-f-]{36}$/);
      expect(second).not.toBe(first);
      expect(texts(api, "user").some((t) => t.includes("MANGO"))).toBe(false);
    },
    TURN_TIMEOUT,
  );

  it(
    "a model API 401 is outcome auth, within seconds, and no session is kept",
    async () => {
      const api = await startFake("status:401");
      const { executor: e, store } = executor(api.url, { model: "gemini-2.5-flash" });
      const started = Date.now();
      const reply = await turn(e, "hi");
      expect(reply.outcome).toBe("auth");
      expect(reply.detail).toMatch(/UNAUTHENTICATED/);
      expect(reply.detail).not.toContain(API_KEY);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await store.get()).toBeUndefined();
    },
    TURN_TIMEOUT,
  );

  it(
    "nothing listening at the base URL: the turn ends within its timeout and no process of the group is left",
    async () => {
      const port = await closedPort();
      const { executor: e } = executor(`http://127.0.0.1:${port}`, { timeoutMs: 8_000 });
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
    "an empty answer (exit 0, no text) is a failed turn",
    async () => {
      const api = await startFake("empty");
      const { executor: e, store } = executor(api.url, { model: "gemini-2.5-flash" });
      const reply = await turn(e, "hi");
      expect(reply.outcome).toBe("agent-error");
      expect(reply.detail).toMatch(/empty answer/);
      expect(await store.get()).toBeUndefined();
    },
    TURN_TIMEOUT,
  );

  it(
    "a GEMINI_CLI_HOME from the daemon's environment is the user's: nothing is written there, and that is logged once",
    async () => {
      const api = await startFake();
      const { executor: e } = executor(api.url, {
        model: "gemini-2.5-flash",
        env: { ...process.env, GEMINI_API_KEY: API_KEY, GEMINI_CLI_HOME: home() },
        systemPrompt: "prompt",
      });
      // Without selectedType in the user's settings, Gemini CLI refuses the base URL (exit 41).
      expect((await turn(e, "hi")).outcome).toBe("auth");
      expect((await turn(e, "hi")).outcome).toBe("auth");
      expect(sink.events().filter((event) => event === "executor.home_not_written")).toHaveLength(1);
      const gemini = await readdir(join(home(), ".gemini")).catch(() => [] as string[]);
      expect(gemini).not.toContain("settings.json");
      expect(gemini).not.toContain("GEMINI.md");
    },
    TURN_TIMEOUT,
  );
});
