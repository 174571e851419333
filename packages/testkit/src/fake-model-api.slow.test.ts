import {
  CLAUDE_BIN,
  modelRequestTexts,
  OFFLINE_CLAUDE_ENV,
  type ProcessResult,
  removeDir,
  runProcess,
  tempDir,
} from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeModelApi, lastToolResult, startFakeModelApi } from "./index.js";

// The real Claude Code CLI, driven offline against the fake model API. Never skipped (CI runs it).

interface Turn extends ProcessResult {
  result: Record<string, unknown> | undefined;
}

let home: string;
let cwd: string;
let api: FakeModelApi | undefined;

beforeEach(async () => {
  home = await tempDir("claude-home-");
  cwd = await tempDir("claude-cwd-");
});

afterEach(async () => {
  await api?.close();
  api = undefined;
  await removeDir(home);
  await removeDir(cwd);
});

async function claude(baseUrl: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Turn> {
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: home,
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: "test-key",
    ...OFFLINE_CLAUDE_ENV,
    CLAUDE_CODE_MAX_RETRIES: "2",
    ...extraEnv,
  };
  const run = await runProcess(CLAUDE_BIN, ["-p", "--output-format", "json", ...args], { cwd, env, timeoutMs: 50_000 });
  let result: Record<string, unknown> | undefined;
  try {
    result = JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    result = undefined;
  }
  return { ...run, result };
}

describe("the real Claude Code CLI against startFakeModelApi", { timeout: 120_000 }, () => {
  it("completes a turn offline, and a resumed turn carries the first one in messages", async () => {
    let n = 0;
    api = await startFakeModelApi({ reply: () => `fake reply number ${++n}` });
    const first = await claude(api.url, ["first question alpha"]);
    expect(first.code).toBe(0);
    expect(first.result).toMatchObject({ is_error: false, result: "fake reply number 1" });
    const sessionId = first.result?.session_id;
    expect(typeof sessionId).toBe("string");
    expect(api.requests.some((r) => r.method === "HEAD" && r.path === "/")).toBe(true);
    const [firstCall] = api.messages();
    expect(firstCall).toMatchObject({ query: "?beta=true", stream: true, status: 200 });
    expect(firstCall?.headers["x-api-key"]).toBe("***");
    expect(JSON.stringify(api.requests)).not.toContain("test-key");

    const second = await claude(api.url, ["--resume", String(sessionId), "second question beta"]);
    expect(second.code).toBe(0);
    expect(second.result).toMatchObject({ is_error: false, result: "fake reply number 2", session_id: sessionId });
    const resumed = api.messages().at(-1);
    const carried = modelRequestTexts(resumed?.body).join("\n");
    expect(carried).toContain("first question alpha");
    expect(carried).toContain("fake reply number 1");
    expect(carried).toContain("second question beta");
  });

  it("a tool call: the CLI runs the Bash tool and the model answers with its output", async () => {
    api = await startFakeModelApi({
      reply: (request) => {
        const result = lastToolResult(request.body);
        const offersBash = JSON.stringify(request.body).includes('"name":"Bash"');
        if (result !== undefined) return `the shell said: ${result.trim()}`;
        return offersBash
          ? { toolUse: { name: "Bash", input: { command: "echo tool-ran-$((6*7))", description: "echo a number" } } }
          : "no tools offered";
      },
    });
    const turn = await claude(api.url, ["--allowedTools=Bash", "run the shell"]);
    expect(turn.code).toBe(0);
    expect(turn.result).toMatchObject({ is_error: false, result: "the shell said: tool-ran-42" });
  });

  it("status:401 → the CLI fails with an auth error", async () => {
    api = await startFakeModelApi({ mode: "status:401" });
    const turn = await claude(api.url, ["hi"]);
    expect(turn.code).toBe(1);
    expect(turn.result).toMatchObject({ is_error: true, api_error_status: 401 });
    expect(String(turn.result?.result)).toMatch(/Invalid API key/);
  });

  it("fail-first:1 (529) then ok → the turn succeeds after one retry", async () => {
    api = await startFakeModelApi({ mode: "fail-first:1", reply: "after overload" });
    const turn = await claude(api.url, ["hi"]);
    expect(turn.code).toBe(0);
    expect(turn.result).toMatchObject({ is_error: false, result: "after overload" });
    expect(api.messages().map((r) => r.status)).toEqual([529, 200]);
  });

  it("fail-first:1:500 then ok → the turn succeeds after one retry", async () => {
    api = await startFakeModelApi({ mode: "fail-first:1:500", reply: "after a 500" });
    const turn = await claude(api.url, ["hi"]);
    expect(turn.code).toBe(0);
    expect(turn.result).toMatchObject({ result: "after a 500" });
    expect(api.messages().map((r) => r.status)).toEqual([500, 200]);
  });

  it("hang with a small API_TIMEOUT_MS → the CLI gives up with an error", async () => {
    api = await startFakeModelApi({ mode: "hang" });
    const turn = await claude(api.url, ["hi"], { API_TIMEOUT_MS: "1500", CLAUDE_CODE_MAX_RETRIES: "0" });
    expect(turn.code).toBe(1);
    expect(turn.result).toMatchObject({ is_error: true });
    expect(api.messages().length).toBeGreaterThanOrEqual(1);
  });
});
