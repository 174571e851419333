import { describe, expect, it } from "vitest";
import type { RunVerdict } from "./classify.js";
import { classifyCodexRun, codexFailureClass, codexRetryOf, codexRunReader, readCodexStream } from "./codex-stream.js";
import type { ProcessRun } from "./process.js";
import { cutMarker } from "./reply-cap.js";
import { StdoutLines } from "./stdout-lines.js";

// Lines as Codex CLI 0.169.0 prints them with `exec --json` (captured from the real CLI against
// the testkit fake, and from the measured failure matrix in docs/AGENTS.md).

const THREAD = "01a23c25-bb59-7290-89bc-cd4a33e1f351";
const started = `{"type":"thread.started","thread_id":"${THREAD}"}`;
const turnStarted = `{"type":"turn.started"}`;
const message = (text: string, id = "item_0") =>
  JSON.stringify({ type: "item.completed", item: { id, type: "agent_message", text } });
const completed =
  '{"type":"turn.completed","usage":{"input_tokens":13451,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":11,"reasoning_output_tokens":0}}';
const error = (text: string) => JSON.stringify({ type: "error", message: text });
const failed = (text: string) => JSON.stringify({ type: "turn.failed", error: { message: text } });
/** The tail of a failed turn: each visible retry, then the final error line and `turn.failed`. */
const failure = (final: string, retries: string[] = []) =>
  [started, turnStarted, ...retries.map(error), error(final), failed(final)].join("\n");

const BUBBLEWRAP =
  "warning: Codex could not find bubblewrap on PATH. Install bubblewrap with your OS package manager. Codex will use the bundled bubblewrap in the meantime.\n";

function run(partial: Partial<ProcessRun>): ProcessRun {
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: BUBBLEWRAP,
    timedOut: false,
    cancelled: false,
    durationMs: 1,
    ...partial,
  };
}

describe("readCodexStream", () => {
  it("reads the thread id, the last agent message and the usage of a completed turn", () => {
    const stdout = [started, turnStarted, message("first", "item_0"), message("Hello", "item_1"), completed, ""].join(
      "\n",
    );
    expect(readCodexStream(stdout)).toEqual({
      threadId: THREAD,
      answer: "Hello",
      completed: true,
      usage: {
        inputTokens: 13451,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        outputTokens: 11,
        reasoningOutputTokens: 0,
      },
      errors: [],
    });
  });

  it("ignores noise, malformed lines, unknown events and items that are not agent messages", () => {
    const reasoning = JSON.stringify({ type: "item.completed", item: { id: "item_1", type: "reasoning", text: "hm" } });
    const stdout = [
      "Reading prompt from stdin...",
      "{not json",
      started,
      '{"type":"item.started"}',
      message("hi"),
      reasoning,
    ];
    const facts = readCodexStream(stdout.join("\n"));
    expect(facts).toMatchObject({ threadId: THREAD, answer: "hi", completed: false, errors: [] });
    expect(facts.failure).toBeUndefined();
  });

  it("collects the error lines and turn.failed's message", () => {
    const facts = readCodexStream(
      failure("Quota exceeded. Check your plan and billing details.", ["Reconnecting... 1/2 (x)"]),
    );
    expect(facts.errors).toEqual(["Reconnecting... 1/2 (x)", "Quota exceeded. Check your plan and billing details."]);
    expect(facts.failure).toBe("Quota exceeded. Check your plan and billing details.");
    expect(facts.completed).toBe(false);
  });
});

describe("codexRetryOf", () => {
  it("numbers a visible model API retry and ignores every other line", () => {
    expect(
      codexRetryOf(
        error("Reconnecting... 2/5 (We’re currently experiencing high demand, which may cause temporary errors.)"),
      ),
    ).toBe(2);
    expect(codexRetryOf(error("Reconnecting... waiting for network (Connection failed: error sending request)"))).toBe(
      0,
    );
    expect(codexRetryOf(error("Connection failed: error sending request"))).toBeUndefined();
    expect(codexRetryOf(message("Reconnecting... 1/5"))).toBeUndefined();
    expect(codexRetryOf("Reconnecting... 1/5")).toBeUndefined();
  });
});

const S401 =
  "unexpected status 401 Unauthorized: Incorrect API key provided: fake. You can find your API key at https://platform.openai.com/account/api-keys., url: http://127.0.0.1:43361/v1/responses, request id: req_fake_3f5ae5cbef1675eb";
const HIGH_DEMAND = "We’re currently experiencing high demand, which may cause temporary errors.";
const UNREADABLE = `Error: thread/resume: thread/resume failed: failed to read thread: thread-store internal error: failed to read session metadata /h/sessions/2026/12/03/rollout-2026-12-03T13-48-17-${THREAD}.jsonl: rollout at /h/sessions/2026/12/03/rollout-2026-12-03T13-48-17-${THREAD}.jsonl is empty (code -32603)\n`;
const NO_ROLLOUT = `Error: thread/resume: thread/resume failed: no rollout found for thread id ${THREAD} (code -32600)\n\nStack backtrace:\n   0: <unknown>\n   1: <unknown>\n`;

// One row per class of the table in docs/AGENTS.md: the run as the CLI ends it → the verdict.
const ROWS: readonly (readonly [string, Partial<ProcessRun>, RunVerdict["kind"], boolean?])[] = [
  ["auth: 401", { exitCode: 1, stdout: failure(S401, [`Reconnecting... 1/2 (${S401})`]) }, "auth"],
  [
    "auth: 403",
    {
      exitCode: 1,
      stdout: failure("unexpected status 403 Forbidden: fake: forbidden, url: http://127.0.0.1:1/v1/responses"),
    },
    "auth",
  ],
  [
    "auth: the provider's key variable unset",
    { exitCode: 1, stdout: failure("Missing environment variable: `CODEX_API_KEY`.") },
    "auth",
  ],
  [
    "auth: refresh token expired",
    {
      exitCode: 1,
      stdout: failure(
        "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.",
      ),
    },
    "auth",
  ],
  [
    "rate limited: 429",
    {
      exitCode: 1,
      stdout: failure("exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_c13d"),
    },
    "rate-limited",
    true,
  ],
  [
    "quota: not retryable",
    { exitCode: 1, stdout: failure("Quota exceeded. Check your plan and billing details.") },
    "rate-limited",
    false,
  ],
  [
    "context full",
    {
      exitCode: 1,
      stdout: failure(
        "Codex ran out of room in the model's context window. Start a new thread or clear earlier history before retrying.",
      ),
    },
    "context-full",
  ],
  [
    "model",
    { exitCode: 1, stdout: failure("The model `fake-missing` does not exist or you do not have access to it.") },
    "agent-error",
  ],
  ["session missing: the rollout is gone", { exitCode: 1, stderr: BUBBLEWRAP + NO_ROLLOUT }, "session-missing"],
  ["session missing: a rollout Codex cannot read", { exitCode: 1, stderr: BUBBLEWRAP + UNREADABLE }, "session-missing"],
  [
    "server: 500/503",
    { exitCode: 1, stdout: failure(HIGH_DEMAND, [`Reconnecting... 1/2 (${HIGH_DEMAND})`]) },
    "rate-limited",
    true,
  ],
  [
    "server: stream broken",
    { exitCode: 1, stdout: failure("stream disconnected before completion: error sending request") },
    "rate-limited",
    true,
  ],
  [
    "network: nothing listening",
    {
      exitCode: 1,
      stdout: failure("Connection failed: error sending request", [
        "Reconnecting... 1/2 (Connection failed: error sending request)",
      ]),
    },
    "agent-error",
  ],
  [
    "usage error: exit 2",
    {
      exitCode: 2,
      stderr:
        "error: unexpected argument '-s' found\n\n  tip: to pass '-s' as a value, use '-- -s'\n\nUsage: codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]\n",
    },
    "agent-error",
  ],
  [
    "killed: exit 143 (SIGTERM forwarded by the launcher)",
    { exitCode: 143, stdout: `${started}\n${turnStarted}\n` },
    "crash",
  ],
  ["killed: a signal", { exitCode: null, signal: "SIGKILL", stdout: started }, "crash"],
];

describe("classifyCodexRun", () => {
  it("exit 0 with turn.completed and an answer is ok, with the thread id as the session id", () => {
    const stdout = [started, turnStarted, message("Hello from the fake OpenAI Responses API."), completed, ""].join(
      "\n",
    );
    expect(classifyCodexRun(run({ stdout }))).toEqual({
      kind: "ok",
      text: "Hello from the fake OpenAI Responses API.",
      sessionId: THREAD,
    });
  });

  it("exit 0 without an answer or without turn.completed is an agent error, never a success", () => {
    const empty = [started, turnStarted, completed.replace('"output_tokens":11', '"output_tokens":0'), ""].join("\n");
    expect(classifyCodexRun(run({ stdout: empty }))).toMatchObject({
      kind: "agent-error",
      detail: expect.stringMatching(/empty answer/),
    });
    expect(classifyCodexRun(run({ stdout: [started, message("   "), completed].join("\n") })).kind).toBe("agent-error");
    expect(classifyCodexRun(run({ stdout: [started, message("half")].join("\n") }))).toMatchObject({
      kind: "agent-error",
      detail: expect.stringMatching(/without completing/),
    });
    expect(classifyCodexRun(run({ stdout: "" })).kind).toBe("agent-error");
  });

  for (const [name, partial, kind, retryable] of ROWS) {
    it(name, () => {
      const verdict = classifyCodexRun(run(partial));
      expect(verdict.kind).toBe(kind);
      if (verdict.kind === "rate-limited") expect(verdict.retryable).toBe(retryable);
      if ("detail" in verdict) expect(verdict.detail.length).toBeGreaterThan(0);
    });
  }

  it("the detail of a failed turn is turn.failed's message, not the retries", () => {
    const verdict = classifyCodexRun(run({ exitCode: 1, stdout: failure(S401, [`Reconnecting... 1/2 (${S401})`]) }));
    expect(verdict).toEqual({ kind: "auth", detail: S401 });
  });

  it("turn.failed decides over an earlier retry of another class", () => {
    const stdout = failure("Quota exceeded. Check your plan and billing details.", [
      `Reconnecting... 1/2 (${HIGH_DEMAND})`,
    ]);
    expect(classifyCodexRun(run({ exitCode: 1, stdout }))).toMatchObject({ kind: "rate-limited", retryable: false });
  });

  it("a failure before the turn is read from stderr's Error: line", () => {
    const stderr = `${BUBBLEWRAP}Error: Missing environment variable: \`CODEX_API_KEY\`.\n`;
    expect(classifyCodexRun(run({ exitCode: 1, stderr }))).toEqual({
      kind: "auth",
      detail: "Error: Missing environment variable: `CODEX_API_KEY`.",
    });
  });

  it("the runtime's own timeout, cancel and a failed spawn win over the output", () => {
    const stdout = failure(S401);
    expect(classifyCodexRun(run({ exitCode: 143, stdout, timedOut: true }))).toEqual({ kind: "timeout" });
    expect(classifyCodexRun(run({ exitCode: 143, stdout, cancelled: true }))).toEqual({ kind: "cancelled" });
    const spawnError = Object.assign(new Error("spawn codex ENOENT"), { code: "ENOENT" });
    expect(classifyCodexRun(run({ exitCode: null, spawnError }))).toEqual({
      kind: "crash",
      detail: "could not start the agent: ENOENT",
    });
  });

  it("an unknown failure is an agent error carrying the last message", () => {
    const body =
      '{"error":{"param":null,"type":"invalid_request_error","code":null,"message":"fake: invalid request"}}';
    expect(classifyCodexRun(run({ exitCode: 1, stdout: failure(body) }))).toEqual({
      kind: "agent-error",
      detail: body,
    });
  });
});

describe("codexFailureClass", () => {
  it("does not read a class into unrelated text", () => {
    expect(codexFailureClass("generate 4290 tokens")).toBeUndefined();
    expect(codexFailureClass("Hello from the fake OpenAI Responses API.")).toBeUndefined();
  });
});

describe("codexRunReader (read line by line, bounded)", () => {
  function verdictOf(stdout: string, maxReplyBytes: number, maxLine = 1_000): RunVerdict {
    const reader = codexRunReader(maxReplyBytes);
    const lines = new StdoutLines(reader, maxLine, maxReplyBytes);
    for (let i = 0; i < stdout.length; i += 4096) lines.push(stdout.slice(i, i + 4096));
    lines.end();
    return reader.verdict(run({}));
  }
  const command = (output: string) =>
    JSON.stringify({
      type: "item.completed",
      item: { id: "item_1", type: "command_execution", aggregated_output: output },
    });

  it("finds the answer after MBs of command output", () => {
    const stdout = [started, turnStarted, command("x".repeat(3_000_000)), message("the answer"), completed].join("\n");
    expect(verdictOf(stdout, 10_000)).toEqual({
      kind: "ok",
      text: "the answer",
      sessionId: THREAD,
      usage: { input_tokens: 13451, output_tokens: 11, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
    });
  });

  it("an answer longer than max_reply_bytes is cut with the marker (a long line, or one that fits)", () => {
    for (const maxLine of [1_000, 100_000_000]) {
      const verdict = verdictOf([started, message(`START${"z".repeat(50_000)}`), completed].join("\n"), 4_096, maxLine);
      expect(verdict).toMatchObject({ kind: "ok", sessionId: THREAD, cut: true });
      const text = verdict.kind === "ok" ? verdict.text : "";
      expect(text.startsWith("STARTzz")).toBe(true);
      expect(text.endsWith(cutMarker(4_096))).toBe(true);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4_096);
    }
  });

  it("keeps the latest 32 error lines only", () => {
    const retries = Array.from({ length: 500 }, (_, i) => `Reconnecting... ${i}/500 (stream disconnected)`);
    const facts = readCodexStream(failure("exceeded retry limit, last status: 429 Too Many Requests", retries));
    expect(facts.errors).toHaveLength(32);
    expect(facts.errors.at(-1)).toContain("exceeded retry limit");
  });
});
