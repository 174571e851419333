import { describe, expect, it } from "vitest";
import { classifyRun, createStreamReader } from "./classify.js";
import type { ProcessRun } from "./process.js";
import { cutMarker } from "./reply-cap.js";
import { StdoutLines } from "./stdout-lines.js";

const matchers = {
  isAuthFailureText: (t: string) => /not logged in|invalid api key|(?<!\w)401(?!\w)/i.test(t),
  isMissingSessionError: (t: string) => /no conversation found with session id/i.test(t),
};

function run(partial: Partial<ProcessRun>): ProcessRun {
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    timedOut: false,
    cancelled: false,
    durationMs: 1,
    ...partial,
  };
}

const result = (fields: Record<string, unknown>) =>
  JSON.stringify({ type: "result", subtype: "success", session_id: "s-1", ...fields });
const assistantError = (kind: string, text: string) =>
  JSON.stringify({ type: "assistant", error: kind, message: { content: [{ type: "text", text }] } });

describe("classifyRun", () => {
  it("exit 0 with a non-error, non-empty result is ok, with the session id", () => {
    const v = classifyRun(run({ stdout: `${result({ is_error: false, result: "hello" })}\n` }), matchers);
    expect(v).toEqual({ kind: "ok", text: "hello", sessionId: "s-1" });
  });

  it("exit 0 with an empty result or no result at all is an agent error, never a success", () => {
    expect(classifyRun(run({ stdout: result({ is_error: false, result: "  " }) }), matchers).kind).toBe("agent-error");
    expect(classifyRun(run({ stdout: "" }), matchers).kind).toBe("agent-error");
    expect(classifyRun(run({ stdout: "not json at all" }), matchers).kind).toBe("agent-error");
  });

  it("is_error: true is a failure even with subtype success and exit 0", () => {
    const v = classifyRun(run({ stdout: result({ is_error: true, result: "something broke" }) }), matchers);
    expect(v.kind).toBe("agent-error");
  });

  it("the structured authentication_failed kind wins over text", () => {
    const stdout = [assistantError("authentication_failed", "whatever"), result({ is_error: true, result: "x" })].join(
      "\n",
    );
    expect(classifyRun(run({ exitCode: 1, stdout }), matchers).kind).toBe("auth");
  });

  it("falls back to auth text markers on stdout or stderr", () => {
    expect(classifyRun(run({ exitCode: 1, stdout: "Not logged in · Please run /login" }), matchers).kind).toBe("auth");
    expect(classifyRun(run({ exitCode: 1, stderr: "Invalid API key · Fix external API key" }), matchers).kind).toBe(
      "auth",
    );
  });

  it("api_error_status 401 is auth; 429/529 and rate_limit/server_error kinds are retryable rate limits", () => {
    expect(
      classifyRun(run({ exitCode: 1, stdout: result({ is_error: true, api_error_status: 401 }) }), matchers).kind,
    ).toBe("auth");
    const r429 = classifyRun(run({ exitCode: 1, stdout: result({ is_error: true, api_error_status: 529 }) }), matchers);
    expect(r429).toMatchObject({ kind: "rate-limited", retryable: true });
    const kind = classifyRun(run({ exitCode: 1, stdout: assistantError("server_error", "boom") }), matchers);
    expect(kind).toMatchObject({ kind: "rate-limited", retryable: true });
  });

  it("rate-limit words match whole words only", () => {
    expect(classifyRun(run({ exitCode: 1, stderr: "API Error: 429 rate limited" }), matchers)).toMatchObject({
      kind: "rate-limited",
    });
    expect(classifyRun(run({ exitCode: 1, stderr: "could not generate the file 4290" }), matchers).kind).toBe(
      "agent-error",
    );
  });

  it("a usage cap is rate-limited but not retryable", () => {
    const v = classifyRun(run({ exitCode: 1, stdout: "You've hit your limit · resets 5pm" }), matchers);
    expect(v).toMatchObject({ kind: "rate-limited", retryable: false });
  });

  it("missing session and init timeout are recognised on stderr", () => {
    expect(classifyRun(run({ exitCode: 1, stderr: "No conversation found with session ID: abc" }), matchers).kind).toBe(
      "session-missing",
    );
    expect(classifyRun(run({ exitCode: 1, stderr: "Error: Control request timeout: initialize" }), matchers).kind).toBe(
      "init-timeout",
    );
  });

  it("spawn failure is a crash, timeout and cancel are their own kinds", () => {
    const spawnError = Object.assign(new Error("spawn claude ENOENT"), { code: "ENOENT" });
    expect(classifyRun(run({ exitCode: null, spawnError }), matchers).kind).toBe("crash");
    expect(classifyRun(run({ exitCode: null, signal: "SIGTERM", timedOut: true }), matchers).kind).toBe("timeout");
    expect(classifyRun(run({ exitCode: null, signal: "SIGTERM", cancelled: true }), matchers).kind).toBe("cancelled");
    expect(classifyRun(run({ exitCode: null, signal: "SIGSEGV" }), matchers).kind).toBe("crash");
  });
});

describe("createStreamReader (read line by line, bounded)", () => {
  /** Feeds `stdout` as the runner does: in chunks, lines longer than `maxLine` read as bounded JSON. */
  function readAll(stdout: string, maxReplyBytes: number, maxLine = 1_000) {
    const reader = createStreamReader(maxReplyBytes);
    const lines = new StdoutLines(reader, maxLine, maxReplyBytes);
    for (let i = 0; i < stdout.length; i += 4096) lines.push(stdout.slice(i, i + 4096));
    lines.end();
    return reader.facts();
  }
  const tool = (content: string) =>
    JSON.stringify({ type: "user", message: { content: [{ type: "tool_result", content }] }, session_id: "s-1" });

  it("finds the result after MBs of tool output (long lines and many lines)", () => {
    const stdout = [
      tool("x".repeat(3_000_000)),
      ...Array.from({ length: 2_000 }, () => tool("y".repeat(900))),
      result({ is_error: false, result: "the answer" }),
    ].join("\n");
    const facts = readAll(stdout, 10_000);
    expect(classifyRun(run({ stdout: "" }), matchers, facts)).toEqual({
      kind: "ok",
      text: "the answer",
      sessionId: "s-1",
    });
    expect(facts.otherText).toEqual([]);
  });

  it("a result longer than max_reply_bytes is cut with the marker, on one line or on a long one", () => {
    for (const maxLine of [1_000, 100_000_000]) {
      const facts = readAll(
        result({ is_error: false, result: `START${"é".repeat(50_000)}END`, usage: { output_tokens: 5 } }),
        4_096,
        maxLine,
      );
      const verdict = classifyRun(run({}), matchers, facts);
      expect(verdict).toMatchObject({ kind: "ok", sessionId: "s-1", cut: true });
      const text = verdict.kind === "ok" ? verdict.text : "";
      expect(text.startsWith("STARTéé")).toBe(true);
      expect(text.endsWith(cutMarker(4_096))).toBe(true);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4_096);
    }
  });

  it("keeps bounded evidence: the latest error kinds and noise lines, each cut", () => {
    const noise = Array.from({ length: 100 }, (_, i) => `noise ${i} ${"n".repeat(20_000)}`);
    const facts = readAll(
      [...noise, assistantError("rate_limit", "API Error: 429"), "Not logged in · Please run /login"].join("\n"),
      10_000,
      100_000,
    );
    expect(facts.otherText).toHaveLength(32);
    expect(facts.otherText.every((t) => t.length <= 16_000)).toBe(true);
    expect(facts.otherText.at(-1)).toBe("Not logged in · Please run /login");
    expect(facts.errorKinds).toEqual(["rate_limit"]);
    expect(classifyRun(run({ exitCode: 1 }), matchers, facts).kind).toBe("rate-limited");
  });
});
