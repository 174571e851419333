import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createSessionStore } from "@molecule/session";
import { CLAUDE_BIN, OFFLINE_CLAUDE_ENV, removeDir, tempDir } from "@molecule/test-support";
import {
  type FakeModelApi,
  type FakeModelReply,
  lastToolResult,
  type ModelApiRequest,
  startFakeModelApi,
} from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Executor, TurnActivity, TurnReply } from "../executor.js";
import { createClaudeCodeExecutor } from "./claude-code.js";

// The real, pinned Claude Code CLI against the testkit's fake Messages API, in temp dirs: the whole
// executor, no mocks. What the agent did (tool calls, results), what it cost (the result line's
// usage), and a turn that stopped to ask for permission.

let dir = "";
let fake: FakeModelApi | undefined;

beforeEach(async () => {
  dir = await tempDir("molecule-claude-");
  await writeFile(join(dir, "notes.txt"), "the launch code is ORANGE-42\n");
});
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  await removeDir(dir);
});

function executor(api: FakeModelApi, extraArgs: string[] = []): Executor {
  return createClaudeCodeExecutor({
    command: CLAUDE_BIN,
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: join(dir, "home"),
      ANTHROPIC_API_KEY: "sk-ant-test-claude",
      ...OFFLINE_CLAUDE_ENV,
    },
    sessionStore: createSessionStore({ file: join(dir, "state", "session.json") }),
    timeoutMs: 60_000,
    baseUrl: api.url,
    rateLimitRetries: 0,
    extraArgs,
  });
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

/** What the fake reported over these requests, summed. */
function reported(requests: readonly ModelApiRequest[]) {
  const sum = (key: "input_tokens" | "output_tokens") => requests.reduce((n, r) => n + (r.usage?.[key] ?? 0), 0);
  return { input_tokens: sum("input_tokens"), output_tokens: sum("output_tokens") };
}

/** Calls `tool` once (when the agent offers it), then answers with what the tool returned. */
function callsOnce(tool: string, input: Record<string, unknown>): (request: ModelApiRequest) => FakeModelReply {
  return (request) => {
    const result = lastToolResult(request.body);
    if (result !== undefined) return `the tool said: ${result.trim()}`;
    return JSON.stringify(request.body).includes(`"name":"${tool}"`)
      ? { toolUse: { name: tool, input } }
      : `${tool} was not offered`;
  };
}

describe("the Claude Code executor with the real CLI", { timeout: 120_000 }, () => {
  it("a Read call and its result become activities; the usage is the fake's, this turn's only (a resumed turn too)", async () => {
    fake = await startFakeModelApi({ reply: callsOnce("Read", { file_path: join(dir, "notes.txt") }) });
    const e = executor(fake);
    const activities: TurnActivity[] = [];
    const first = await turn(e, "what is in notes.txt?", activities);
    expect(first).toMatchObject({ outcome: "ok", text: expect.stringContaining("ORANGE-42") });
    expect(activities).toEqual([
      { kind: "tool_call", tool: "Read", id: expect.any(String), input: { file_path: join(dir, "notes.txt") } },
      { kind: "tool_result", tool: "Read", id: expect.any(String), output: expect.stringContaining("ORANGE-42") },
    ]);
    expect(activities[0]?.kind === "tool_call" && activities[0].id).toBe(
      activities[1]?.kind === "tool_result" && activities[1].id,
    );
    const turnOne = fake.messages();
    expect(turnOne).toHaveLength(2); // the call, then the answer
    expect(first.usage).toMatchObject({
      ...reported(turnOne),
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      model: expect.stringMatching(/^claude-/),
    });
    expect(first.usage?.cost_usd).toBeGreaterThan(0);

    // The second turn resumes the session: its requests carry turn 1, its usage does not count it again.
    const second = await turn(e, "and again, briefly?");
    expect(second.outcome).toBe("ok");
    const turnTwo = fake.messages().slice(turnOne.length);
    expect(turnTwo.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(turnTwo[0]?.body)).toContain("what is in notes.txt?");
    expect(second.usage).toMatchObject(reported(turnTwo));
    expect(second.usage?.input_tokens).toBeLessThan(reported([...turnOne, ...turnTwo]).input_tokens);
  });

  it("the model's thinking before its answer becomes a thinking activity", async () => {
    fake = await startFakeModelApi({ reply: { thinking: "the user wants it short", text: "short answer" } });
    const activities: TurnActivity[] = [];
    expect(await turn(executor(fake), "think first", activities)).toMatchObject({
      outcome: "ok",
      text: "short answer",
    });
    expect(activities).toEqual([{ kind: "thinking", text: "the user wants it short" }]);
  });

  it("a tool that needs permission fails the turn with a safe error naming it, at once; allowed, the turn answers", async () => {
    const command = { command: 'node -e "console.log(6*7)"', description: "print a number" };
    fake = await startFakeModelApi({ reply: callsOnce("Bash", command) });
    const activities: TurnActivity[] = [];
    const started = Date.now();
    const denied = await turn(executor(fake), "compute it", activities);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(denied).toMatchObject({
      outcome: "agent-error",
      error:
        'the agent stopped to ask for permission to use Bash; a headless turn cannot answer — allow the tool (runtime_config.args: ["--allowedTools=Bash"]) or rephrase the task',
    });
    expect(denied.text).toBeUndefined();
    expect(denied.usage?.input_tokens).toBeGreaterThan(0);
    expect(activities.map((a) => a.kind)).toEqual(["tool_call", "tool_result"]);
    expect(activities[1]).toMatchObject({ tool: "Bash", error: true });

    const allowed = await turn(executor(fake, ["--allowedTools=Bash"]), "compute it");
    expect(allowed).toMatchObject({ outcome: "ok", text: "the tool said: 42" });
  });
});
