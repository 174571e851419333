import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TurnActivity } from "../executor.js";
import { geminiActivityOf, geminiActivityOfValue } from "./gemini-activity.js";
import { geminiRunReader, geminiTurnUsage, readGeminiStream } from "./gemini-stream.js";

// Real transcripts: Gemini CLI 0.61.0 `-o stream-json -m gemini-2.5-flash` against the testkit's fake
// Gemini API, the fake model calling read_file, and run_shell_command without and with --yolo
// (headless without --yolo the CLI does not register the tools that need a confirmation).

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");
const activities = (stdout: string): TurnActivity[] =>
  stdout.split("\n").flatMap((line) => geminiActivityOf(line) ?? []);

describe("geminiActivityOf", () => {
  it("reports tool_use as a tool call with its parameters and tool_result as its result", () => {
    expect(activities(fixture("gemini-read-file.jsonl"))).toEqual([
      {
        kind: "tool_call",
        tool: "read_file",
        id: expect.stringMatching(/^read_file__/),
        input: { file_path: "hello.txt" },
      },
      { kind: "tool_result", tool: "read_file", id: expect.stringMatching(/^read_file__/) },
    ]);
  });

  it("a tool the CLI refused (not registered without --yolo) is an error result with its message", () => {
    const [call, result] = activities(fixture("gemini-tool-not-registered.jsonl"));
    expect(call).toMatchObject({ kind: "tool_call", tool: "run_shell_command", input: { command: "echo hi" } });
    expect(result).toMatchObject({
      kind: "tool_result",
      error: true,
      output: expect.stringContaining('Tool "run_shell_command" not found'),
    });
  });

  it("a command's output is the result's output", () => {
    expect(activities(fixture("gemini-shell-yolo.jsonl"))[1]).toEqual({
      kind: "tool_result",
      tool: "run_shell_command",
      id: expect.stringMatching(/^run_shell_command__/),
      output: "hi",
    });
  });

  it("ignores messages, results and noise; reads a long line's bounded value the same way", () => {
    for (const line of fixture("gemini-read-file.jsonl").split("\n").slice(4)) {
      expect(geminiActivityOf(line)).toBeUndefined();
    }
    expect(geminiActivityOf('{"type":"tool_use"}')).toBeUndefined();
    // the tool's name is read from a result's id only when the id has the CLI's shape
    expect(
      geminiActivityOf(
        '{"type":"tool_result","tool_id":"mcp__docs__mcp__docs_1796316663856_2","status":"success","output":"ok"}',
      ),
    ).toMatchObject({ tool: "mcp__docs" });
    expect(
      geminiActivityOfValue({ type: "tool_result", tool_id: "t", status: "success", output: "y".repeat(50) }),
    ).toEqual({
      kind: "tool_result",
      id: "t",
      output: "y".repeat(50),
    });
  });
});

describe("Gemini CLI usage", () => {
  it("is the run's own stats: input without the cached part, the configured model, else the busiest", () => {
    const facts = readGeminiStream(fixture("gemini-read-file.jsonl"));
    expect(
      geminiTurnUsage(facts.usage ?? { inputTokens: -1, outputTokens: -1, totalTokens: -1, cachedTokens: -1 }),
    ).toEqual({
      input_tokens: 341,
      output_tokens: 30,
      cache_read_input_tokens: 0,
      model: "gemini-2.5-flash",
    });
    expect(
      geminiTurnUsage({ inputTokens: 1000, outputTokens: 5, totalTokens: 1005, cachedTokens: 600 }, "gemini-pro"),
    ).toEqual({ input_tokens: 400, output_tokens: 5, cache_read_input_tokens: 600, model: "gemini-pro" });
  });

  it("rides on the run's verdict", () => {
    const reader = geminiRunReader(1_000_000, "gemini-2.5-flash");
    for (const line of fixture("gemini-shell-yolo.jsonl").split("\n")) reader.line(line);
    const verdict = reader.verdict({
      exitCode: 0,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      cancelled: false,
      durationMs: 1,
    });
    expect(verdict).toMatchObject({
      kind: "ok",
      usage: { input_tokens: 368, output_tokens: 44, cache_read_input_tokens: 0, model: "gemini-2.5-flash" },
    });
  });
});
