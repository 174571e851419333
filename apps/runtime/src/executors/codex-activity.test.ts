import { readFileSync } from "node:fs";
import { appendFile, copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TurnActivity } from "../executor.js";
import { codexActivityOf, codexActivityOfValue } from "./codex-activity.js";
import { classifyCodexRun, codexRunReader, readCodexStream } from "./codex-stream.js";
import { codexTurnUsage, lastRolloutCumulative, threadCumulative } from "./codex-usage.js";
import type { ProcessRun } from "./process.js";

// Real transcripts: Codex CLI 0.169.0 `exec --json` against the testkit's fake Responses API, the
// fake model calling Codex's `exec` tool (a shell command, a failing one, an apply_patch), and the
// rollout of a thread of three turns (only its event lines kept); a reply with a reasoning summary.

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name), "utf8");
const activities = (stdout: string): TurnActivity[] =>
  stdout.split("\n").flatMap((line) => codexActivityOf(line) ?? []);

describe("codexActivityOf", () => {
  it("reports a shell command as a tool call when it starts and its output when it completes", () => {
    expect(activities(fixture("codex-shell-tool.jsonl"))).toEqual([
      { kind: "tool_call", tool: "shell", id: "item_0", input: "/bin/bash -lc 'cat hello.txt'" },
      {
        kind: "tool_result",
        tool: "shell",
        id: "item_0",
        output: expect.stringContaining("hello from the workspace"),
      },
    ]);
  });

  it("marks a command that exited non-zero (status failed) as an error", () => {
    const [call, result] = activities(fixture("codex-failed-command.jsonl"));
    expect(call).toMatchObject({ kind: "tool_call", input: "/bin/bash -lc 'cat nope.txt'" });
    expect(result).toMatchObject({ kind: "tool_result", error: true, output: expect.stringContaining("No such file") });
  });

  it("reports a file change with its paths", () => {
    expect(activities(fixture("codex-file-change.jsonl"))).toEqual([
      { kind: "tool_call", tool: "file_change", id: "item_0", input: [{ path: "/work/w/new.txt", kind: "add" }] },
      { kind: "tool_result", tool: "file_change", id: "item_0", output: [{ path: "/work/w/new.txt", kind: "add" }] },
    ]);
  });

  it("names an MCP tool call by its tool, with its arguments, and its error as an error", () => {
    const started = {
      type: "item.started",
      item: {
        id: "item_3",
        type: "mcp_tool_call",
        server: "docs",
        tool: "search",
        arguments: { q: "x" },
        status: "in_progress",
      },
    };
    const failed = {
      type: "item.completed",
      item: { ...started.item, status: "failed", error: { message: "server gone" } },
    };
    expect(codexActivityOf(JSON.stringify(started))).toEqual({
      kind: "tool_call",
      tool: "search",
      id: "item_3",
      input: { q: "x" },
    });
    expect(codexActivityOf(JSON.stringify(failed))).toEqual({
      kind: "tool_result",
      tool: "search",
      id: "item_3",
      output: { message: "server gone" },
      error: true,
    });
  });

  it("reports the real CLI's reasoning item (the model's reasoning summary) as thinking", () => {
    expect(activities(fixture("codex-reasoning.jsonl"))).toEqual([
      { kind: "thinking", text: "**Pondering** the request" },
    ]);
  });

  it("reports a reasoning item as thinking, and ignores messages, usage and noise", () => {
    const reasoning = { type: "item.completed", item: { id: "item_1", type: "reasoning", text: "**Looking** at it" } };
    expect(codexActivityOf(JSON.stringify(reasoning))).toEqual({ kind: "thinking", text: "**Looking** at it" });
    expect(codexActivityOf(JSON.stringify({ ...reasoning, type: "item.started" }))).toBeUndefined();
    for (const line of fixture("codex-shell-tool.jsonl").split("\n").slice(4)) {
      expect(codexActivityOf(line)).toBeUndefined();
    }
    expect(codexActivityOf('{"type":"item.completed"')).toBeUndefined();
  });

  it("reads a long line's bounded value the same way", () => {
    const value = {
      type: "item.completed",
      item: {
        id: "i",
        type: "command_execution",
        command: "yes",
        aggregated_output: "y\ny\n",
        exit_code: 0,
        status: "completed",
      },
    };
    expect(codexActivityOfValue(value)).toEqual({ kind: "tool_result", tool: "shell", id: "i", output: "y\ny\n" });
    expect(codexActivityOfValue("not an event")).toBeUndefined();
  });
});

describe("Codex usage", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await tempDir("molecule-codex-usage-");
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  it("reads the thread's last cumulative figure from its rollout, however long the lines after it", async () => {
    const rollout = join(dir, "rollout.jsonl");
    await copyFile(join(import.meta.dirname, "fixtures", "codex-rollout-3-turns.jsonl"), rollout);
    expect(await lastRolloutCumulative(rollout)).toEqual({
      inputTokens: 54455,
      cachedInputTokens: 0,
      cacheWriteInputTokens: 0,
      outputTokens: 158,
      reasoningOutputTokens: 0,
    });
    // A tool's output of 300 KB after it (lines cross the 64 KiB chunks it reads backwards).
    await appendFile(
      rollout,
      `${JSON.stringify({ type: "response_item", payload: { output: "x".repeat(300_000) } })}\n`,
    );
    expect((await lastRolloutCumulative(rollout))?.inputTokens).toBe(54455);
    await writeFile(rollout, '{"type":"session_meta","payload":{}}\n');
    expect(await lastRolloutCumulative(rollout)).toBeUndefined();
    expect(await lastRolloutCumulative(join(dir, "missing.jsonl"))).toBeUndefined();
  });

  it("finds the rollout of a thread id under sessions/YYYY/MM/DD", async () => {
    const id = "01a23ccf-d47e-7dc0-9c1d-bfaf5867fa3c";
    const day = join(dir, "sessions", "2026", "12", "03");
    await mkdir(day, { recursive: true });
    await copyFile(
      join(import.meta.dirname, "fixtures", "codex-rollout-3-turns.jsonl"),
      join(day, `rollout-2026-12-03T16-49-43-${id}.jsonl`),
    );
    expect((await threadCumulative(dir, id, "codex"))?.outputTokens).toBe(158);
    expect(await threadCumulative(dir, "01a23ccf-0000-7000-8000-000000000000", "codex")).toBeUndefined();
  });

  it("gives a turn the difference from the thread's figure before it, cache reads apart, and the model", () => {
    const after = {
      inputTokens: 40674,
      cachedInputTokens: 13000,
      cacheWriteInputTokens: 5,
      outputTokens: 124,
      reasoningOutputTokens: 10,
    };
    const before = {
      inputTokens: 26999,
      cachedInputTokens: 0,
      cacheWriteInputTokens: 0,
      outputTokens: 90,
      reasoningOutputTokens: 0,
    };
    expect(codexTurnUsage(after, before, "gpt-5.1-codex")).toEqual({
      input_tokens: 13675 - 13000,
      output_tokens: 34,
      cache_read_input_tokens: 13000,
      cache_creation_input_tokens: 5,
      model: "gpt-5.1-codex",
    });
    // A new thread: all of it. A figure lower than before (Codex counting anew): the turn's own.
    expect(codexTurnUsage(before, undefined)).toEqual({
      input_tokens: 26999,
      output_tokens: 90,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    });
    expect(codexTurnUsage(before, after).input_tokens).toBe(26999);
  });

  it("puts the turn's usage on the run's verdict", () => {
    const stdout = fixture("codex-shell-tool.jsonl");
    const facts = readCodexStream(stdout);
    expect(facts.usage).toMatchObject({ inputTokens: 26999, outputTokens: 90 });
    const run: ProcessRun = {
      exitCode: 0,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      cancelled: false,
      durationMs: 5,
    };
    const reader = codexRunReader(1_000_000, (f) =>
      f.usage ? codexTurnUsage(f.usage, { ...f.usage, inputTokens: 13430, outputTokens: 56 }, "m") : undefined,
    );
    for (const line of stdout.split("\n")) reader.line(line);
    expect(reader.verdict(run)).toMatchObject({
      kind: "ok",
      usage: { input_tokens: 13569, output_tokens: 34, model: "m" },
    });
  });
});

describe("a Codex turn that stops to ask", () => {
  // stderr of the real CLI (approval never) when the fake model asked the user / asked to escalate.
  const QUESTION =
    "2026-12-03T16:49:30.764487Z ERROR codex_core::tools::router: error=request_user_input is unavailable in Default mode\n";
  const ESCALATION =
    "2026-12-03T16:49:36.091789Z ERROR codex_core::tools::router: error=approval policy is Never; reject command — you cannot ask for escalated permissions if the approval policy is Never\n";
  const run = (stderr: string): ProcessRun => ({
    exitCode: 0,
    signal: null,
    stdout: fixture("codex-shell-tool.jsonl"),
    stderr,
    timedOut: false,
    cancelled: false,
    durationMs: 5,
  });

  it("fails the turn with a safe error, though Codex exited 0 with an answer", () => {
    expect(classifyCodexRun(run(QUESTION))).toEqual({
      kind: "agent-error",
      detail: expect.stringContaining("request_user_input"),
      error:
        "the agent stopped to ask the user a question (request_user_input); a headless turn cannot answer — put what it needs to know in the message",
    });
    expect(classifyCodexRun(run(ESCALATION))).toMatchObject({
      kind: "agent-error",
      error: expect.stringMatching(
        /^the agent stopped to ask for approval to run a command outside its sandbox;.*-s", "workspace-write/,
      ),
    });
  });

  it("other stderr lines leave the answer alone", () => {
    expect(classifyCodexRun(run("warning: Codex could not find bubblewrap on PATH.\n"))).toMatchObject({ kind: "ok" });
  });
});
