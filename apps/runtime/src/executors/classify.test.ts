import { describe, expect, it } from "vitest";
import { classifyRun } from "./classify.js";
import type { ProcessRun } from "./process.js";

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
