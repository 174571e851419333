import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { TurnActivity } from "../executor.js";
import { classifyRun, createStreamReader } from "./classify.js";
import { claudeResultFacts, createClaudeActivityReader } from "./claude-events.js";
import type { ProcessRun } from "./process.js";
import { StdoutLines } from "./stdout-lines.js";

// Transcripts captured from the real Claude Code CLI 2.1.197 (`-p --output-format stream-json
// --verbose`) against the testkit's fake model API: the model reads a file with `Read`; calls
// `Bash` without `--allowedTools` (auto-denied headless); calls `AskUserQuestion` (not enabled
// headless); thinks before it answers (the CLI passes the thinking block on).
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}.jsonl`, import.meta.url), "utf8");

const matchers = { isAuthFailureText: () => false, isMissingSessionError: () => false };

function run(stdout: string): ProcessRun {
  return { exitCode: 0, signal: null, stdout, stderr: "", timedOut: false, cancelled: false, durationMs: 1 };
}

function activitiesOf(stdout: string): TurnActivity[] {
  const reader = createClaudeActivityReader();
  return stdout.split("\n").flatMap((line) => reader.line(line));
}

describe("Claude Code activities (real transcripts)", () => {
  it("a Read call and its result: tool name, id and input; the result by the call's name, its text", () => {
    const events = activitiesOf(fixture("claude-read-tool"));
    expect(events).toHaveLength(2);
    const [call, result] = events;
    expect(call).toMatchObject({ kind: "tool_call", tool: "Read", id: expect.stringMatching(/^toolu_fake_/) });
    expect(JSON.stringify(call)).toMatch(/"file_path":"\/tmp\/cccwd-[^"]+\/notes\.txt"/);
    expect(result).toEqual({
      kind: "tool_result",
      tool: "Read",
      id: call?.kind === "tool_call" ? call.id : "",
      output: "1\tline one\n2\tsecret not-a-key-1\n3\t",
    });
  });

  it("a denied Bash call: the result is an error", () => {
    const events = activitiesOf(fixture("claude-permission-denied"));
    expect(events.map((e) => e.kind)).toEqual(["tool_call", "tool_result"]);
    expect(events[1]).toMatchObject({ tool: "Bash", error: true, output: "This command requires approval" });
  });

  it("a thinking block before the answer: one thinking activity with its text", () => {
    expect(activitiesOf(fixture("claude-thinking"))).toEqual([
      { kind: "thinking", text: "the user wants a plain answer; keep it short" },
    ]);
  });

  it("thinking blocks of the assistant; a result's blocks joined; a result of an unknown call has no name", () => {
    const reader = createClaudeActivityReader();
    const assistant = JSON.stringify({
      type: "assistant",
      message: {
        content: [
          { type: "thinking", thinking: "let me look at the file", signature: "x" },
          { type: "redacted_thinking", data: "…" },
          { type: "text", text: "I will read it" },
        ],
      },
    });
    expect(reader.line(assistant)).toEqual([{ kind: "thinking", text: "let me look at the file" }]);
    const user = JSON.stringify({
      type: "user",
      message: {
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_unknown",
            content: [
              { type: "text", text: "part one" },
              { type: "image", source: {} },
            ],
          },
        ],
      },
    });
    expect(reader.line(user)).toEqual([{ kind: "tool_result", id: "toolu_unknown", output: "part one\n[image]" }]);
  });

  it("a malformed line or block is skipped, never thrown; other lines cost no parse", () => {
    const reader = createClaudeActivityReader();
    expect(reader.line('{"type":"assistant","message":{"content":[{"type":"tool_use"')).toEqual([]);
    expect(reader.line('{"type":"assistant","message":{"content":"tool_use"}}')).toEqual([]);
    expect(reader.line("tool_use noise")).toEqual([]);
    expect(reader.value(null)).toEqual([]);
    const mixed = {
      type: "assistant",
      message: {
        content: [
          { type: "tool_use", name: 42 },
          null,
          { type: "tool_use", id: "t1", name: "Grep", input: { pattern: "x" } },
        ],
      },
    };
    expect(reader.value(mixed)).toEqual([{ kind: "tool_call", tool: "Grep", id: "t1", input: { pattern: "x" } }]);
  });

  it("a tool result on a line too long to hold whole still becomes an activity (bounded JSON)", () => {
    const reader = createClaudeActivityReader();
    reader.line(
      JSON.stringify({ type: "assistant", message: { content: [{ type: "tool_use", id: "big", name: "Bash" }] } }),
    );
    const events: TurnActivity[] = [];
    const lines = new StdoutLines(
      { long: (line) => events.push(...reader.value(line.value)), stringCap: () => 2_000 },
      1_000,
      2_000,
    );
    const huge = "y".repeat(50_000);
    lines.push(
      `${JSON.stringify({ type: "user", message: { content: [{ type: "tool_result", tool_use_id: "big", content: huge }] } })}\n`,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "tool_result", tool: "Bash", id: "big" });
    const output = events[0]?.kind === "tool_result" ? String(events[0].output) : "";
    expect(output.length).toBeLessThanOrEqual(2_100);
  });
});

describe("Claude Code usage and the turn that stopped to ask (real transcripts)", () => {
  it("the result's usage, cost and model become the verdict's usage", () => {
    const verdict = classifyRun(run(fixture("claude-read-tool")), matchers);
    expect(verdict).toMatchObject({ kind: "ok", text: "tool said: 1\tline one\n2\tsecret not-a-key-1\n3" });
    expect(verdict.usage).toEqual({
      input_tokens: 3383,
      output_tokens: 23,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      cost_usd: 0.01749,
      model: "claude-opus-4-8[1m]",
    });
  });

  it("a denied tool fails the turn with a safe error naming it, and still carries the usage", () => {
    const verdict = classifyRun(run(fixture("claude-permission-denied")), matchers);
    expect(verdict).toMatchObject({
      kind: "agent-error",
      error:
        'the agent stopped to ask for permission to use Bash; a headless turn cannot answer — allow the tool (runtime_config.args: ["--allowedTools=Bash"]) or rephrase the task',
    });
    expect(verdict.usage?.input_tokens).toBeGreaterThan(0);
  });

  it("a call of AskUserQuestion fails the turn: a headless turn cannot answer it", () => {
    const verdict = classifyRun(run(fixture("claude-ask-user")), matchers);
    expect(verdict).toMatchObject({ kind: "agent-error", error: expect.stringContaining("AskUserQuestion") });
  });

  it("the model with the most output tokens; fields missing or malformed are left out, never thrown", () => {
    const facts = claudeResultFacts({
      type: "result",
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: "many" },
      total_cost_usd: -1,
      modelUsage: { "claude-haiku": { outputTokens: 2 }, "claude-opus": { outputTokens: 3 }, odd: 7 },
      permission_denials: [{ tool_name: "Write" }, { tool_name: "Write" }, "junk", { tool_name: "mcp__x__y" }],
    });
    expect(facts).toEqual({
      usage: { input_tokens: 10, output_tokens: 5, model: "claude-opus" },
      permissionDenials: ["Write", "mcp__x__y"],
    });
    expect(claudeResultFacts({ type: "result", usage: "none" })).toEqual({ permissionDenials: [] });
    expect(claudeResultFacts({ type: "result" })).toEqual({ permissionDenials: [] });
  });

  it("the last result line's usage counts (the reader keeps no earlier one)", () => {
    const reader = createStreamReader();
    const line = (input: number) =>
      JSON.stringify({
        type: "result",
        is_error: false,
        result: "x",
        usage: { input_tokens: input, output_tokens: 1 },
      });
    reader.line(line(100));
    reader.line(line(7));
    expect(reader.facts().usage).toEqual({ input_tokens: 7, output_tokens: 1 });
  });
});
