import { describe, expect, it } from "vitest";
import { classifyGeminiRun, geminiFailureClass, geminiRunReader, readGeminiStream } from "./gemini-stream.js";
import type { ProcessRun } from "./process.js";
import { cutMarker } from "./reply-cap.js";
import { StdoutLines } from "./stdout-lines.js";

// Lines as Gemini CLI 0.61.0 prints them with `-o stream-json` (captured from the real CLI against
// the testkit fake, and from the measured failure matrix in docs/AGENTS.md).

const SESSION = "e2a44a2f-b933-4a72-a490-6f498adf8e48";
const TS = "2026-12-03T13:54:09.698Z";
const init = `{"type":"init","timestamp":"${TS}","session_id":"${SESSION}","model":"auto"}`;
const user = `{"type":"message","timestamp":"${TS}","role":"user","content":"say hi"}`;
const piece = (text: string) =>
  JSON.stringify({ type: "message", timestamp: TS, role: "assistant", content: text, delta: true });
const success =
  '{"type":"result","timestamp":"2026-12-03T13:54:09.784Z","status":"success","stats":{"total_tokens":278,"input_tokens":256,"output_tokens":22,"cached":0,"input":256,"duration_ms":245,"tool_calls":0,"models":{"gemini-3.5-flash-lite":{"total_tokens":145,"input_tokens":131,"output_tokens":14,"cached":0,"input":131},"gemini-3.8-flash":{"total_tokens":133,"input_tokens":125,"output_tokens":8,"cached":0,"input":125}}}}';
const errorResult = (message: string) =>
  JSON.stringify({
    type: "result",
    timestamp: TS,
    status: "error",
    error: { type: "unknown", message },
    stats: { total_tokens: 0, input_tokens: 0, output_tokens: 0, cached: 0, input: 0, duration_ms: 0, tool_calls: 0 },
  });
const EMPTY_LINE =
  '{"type":"error","timestamp":"2026-12-03T13:54:09.700Z","severity":"error","message":"The model returned an empty response with no text or thoughts. This may be due to safety filters or other restrictions."}';

const NOISE =
  "Warning: 256-color support not detected. Using a terminal with at least 256-color support is recommended for a better visual experience.\nRipgrep is not available. Falling back to GrepTool.\n";

function run(partial: Partial<ProcessRun>): ProcessRun {
  return {
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: NOISE,
    timedOut: false,
    cancelled: false,
    durationMs: 1,
    ...partial,
  };
}

const apiError = (code: number, message: string, status: string) =>
  `[API Error: {"error":{"code":${code},"message":"${message}","status":"${status}"}}]`;

describe("readGeminiStream", () => {
  it("reads the session id, the concatenated assistant pieces and the usage of the last result", () => {
    const facts = readGeminiStream(
      [init, user, piece("Hello from the f"), piece("ake Gemini API."), success, ""].join("\n"),
    );
    expect(facts).toEqual({
      sessionId: SESSION,
      answer: "Hello from the fake Gemini API.",
      status: "success",
      usage: {
        inputTokens: 256,
        outputTokens: 22,
        totalTokens: 278,
        cachedTokens: 0,
        uncachedInputTokens: 256,
        model: "gemini-3.5-flash-lite",
      },
      errors: [],
    });
  });

  it("tolerates noise, malformed and unknown lines; the user's message is not the answer", () => {
    const facts = readGeminiStream(
      ["YOLO mode is enabled.", "{not json", '{"type":"tool_use","name":"x"}', init, user, success].join("\n"),
    );
    expect(facts.answer).toBe("");
    expect(facts.sessionId).toBe(SESSION);
    expect(facts.status).toBe("success");
  });

  it("keeps the error lines and the last result's error message", () => {
    const facts = readGeminiStream([init, user, EMPTY_LINE, errorResult("empty")].join("\n"));
    expect(facts.errors).toEqual([expect.stringContaining("empty response")]);
    expect(facts.status).toBe("error");
    expect(facts.failure).toBe("empty");
  });
});

describe("classifyGeminiRun", () => {
  it("ok: exit 0, result success and a non-empty answer, with the session id", () => {
    expect(classifyGeminiRun(run({ stdout: [init, user, piece("Hi"), piece(" there"), success].join("\n") }))).toEqual({
      kind: "ok",
      text: "Hi there",
      sessionId: SESSION,
    });
  });

  it("exit 0 is not enough: an empty answer (error line, status error) is agent-error", () => {
    const verdict = classifyGeminiRun(run({ stdout: [init, user, EMPTY_LINE, errorResult("x")].join("\n") }));
    expect(verdict.kind).toBe("agent-error");
    expect(verdict).toMatchObject({ detail: expect.stringMatching(/empty answer/) });
  });

  it("exit 0 with status success but no assistant text is agent-error; so is exit 0 without a result", () => {
    expect(classifyGeminiRun(run({ stdout: [init, user, success].join("\n") })).kind).toBe("agent-error");
    expect(classifyGeminiRun(run({ stdout: [init, user, piece("partial")].join("\n") })).kind).toBe("agent-error");
  });

  const failed = (exitCode: number, message: string, stderr = NOISE) =>
    classifyGeminiRun(run({ exitCode, stdout: [init, user, errorResult(message)].join("\n"), stderr }));

  it.each([
    [
      "401 (exit 145)",
      145,
      apiError(401, "Request had invalid authentication credentials. (fake)", "UNAUTHENTICATED"),
      "auth",
    ],
    ["403 (exit 147)", 147, apiError(403, "The caller does not have permission (fake)", "PERMISSION_DENIED"), "auth"],
    [
      "a bad key (exit 144, API_KEY_INVALID)",
      144,
      apiError(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"),
      "auth",
    ],
    ["a plain 400 (exit 144)", 144, apiError(400, "fake: invalid argument", "INVALID_ARGUMENT"), "agent-error"],
    [
      "a 429 (exit 173)",
      173,
      "[API Error: Resource has been exhausted (e.g. check quota). (fake)\nSuggested retry after 1s.]",
      "rate-limited",
    ],
    ["a 500 (exit 244)", 244, apiError(500, "An internal error has occurred. (fake)", "INTERNAL"), "rate-limited"],
    ["a 503 (exit 247)", 247, apiError(503, "The model is overloaded. (fake)", "UNAVAILABLE"), "rate-limited"],
    [
      "a missing model (exit 1)",
      1,
      "[API Error: ModelNotFoundError: models/fake-missing is not found for API version v1beta]",
      "agent-error",
    ],
    ["the network (exit 1)", 1, "[API Error: exception TypeError: fetch failed sending request]", "agent-error"],
  ])("%s", (_name, exitCode, message, kind) => {
    expect(failed(exitCode, message).kind).toBe(kind);
  });

  it("a retryable 429 and 5xx are retryable; a daily quota is not", () => {
    expect(failed(244, apiError(500, "x", "INTERNAL"))).toMatchObject({ kind: "rate-limited", retryable: true });
    expect(
      failed(
        173,
        "[API Error: You have exhausted your daily quota on this model. Please wait and try again later. To increase your limits, request a quota increase through AI Studio, or switch to another /auth method]",
      ),
    ).toMatchObject({ kind: "rate-limited", retryable: false });
  });

  it("the model and network details say what happened", () => {
    expect(failed(1, "[API Error: ModelNotFoundError: models/x is not found for API version v1beta]")).toMatchObject({
      detail: expect.stringMatching(/^the model is not available/),
    });
    expect(failed(1, "[API Error: exception TypeError: fetch failed sending request]")).toMatchObject({
      detail: expect.stringMatching(/^the model API could not be reached/),
    });
  });

  const stderrOnly = (exitCode: number, text: string) =>
    classifyGeminiRun(run({ exitCode, stdout: "", stderr: `${NOISE}${text}\n` }));

  it("exit 41 (no auth method, missing key, base URL without gemini-api-key, OAuth login needed) is auth", () => {
    for (const text of [
      "Please set an Auth method in your /h/.gemini/settings.json or specify one of the following environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA",
      "When using Gemini API, you must specify the GEMINI_API_KEY environment variable. Update your environment and try again (no reload needed if using .env)!",
      "Invalid auth method selected.",
      "Error authenticating: FatalAuthenticationError: Manual authorization is required but the current session is non-interactive.",
    ]) {
      expect(stderrOnly(41, text)).toEqual({ kind: "auth", detail: text });
    }
  });

  it("exit 42: a lost session and an id clash are session-missing; no input is agent-error", () => {
    expect(
      stderrOnly(
        42,
        `Error resuming session: Invalid session identifier "${SESSION}".\n  Searched for sessions in /h/.gemini/tmp/w/chats.`,
      ),
    ).toEqual({ kind: "session-missing" });
    expect(stderrOnly(42, "Error resuming session: No previous sessions found for this project.")).toEqual({
      kind: "session-missing",
    });
    expect(
      stderrOnly(
        42,
        `Error starting session: Session ID "${SESSION}" already exists. Use --resume to resume it, or provide a different ID.`,
      ),
    ).toEqual({ kind: "session-missing" });
    expect(
      stderrOnly(
        42,
        "No input provided via stdin. Input can be provided by piping data into gemini or using the --prompt option.",
      ).kind,
    ).toBe("agent-error");
  });

  it("exit 55 (untrusted folder) is agent-error saying so", () => {
    const verdict = stderrOnly(
      55,
      "Gemini CLI is not running in a trusted directory. To proceed, either use `--skip-trust` …",
    );
    expect(verdict).toMatchObject({ kind: "agent-error", detail: expect.stringMatching(/untrusted/) });
  });

  it("the detail leaves out the CLI's startup noise and stack frames", () => {
    const verdict = stderrOnly(1, "Something broke\n    at foo (bundle/x.js:1:2)");
    expect(verdict).toEqual({ kind: "agent-error", detail: "Something broke" });
  });

  it("timeout, cancel, spawn failure and signals", () => {
    expect(classifyGeminiRun(run({ timedOut: true, exitCode: null, signal: "SIGKILL" }))).toEqual({ kind: "timeout" });
    expect(classifyGeminiRun(run({ cancelled: true, exitCode: null }))).toEqual({ kind: "cancelled" });
    const spawnError = Object.assign(new Error("spawn gemini ENOENT"), { code: "ENOENT" });
    expect(classifyGeminiRun(run({ exitCode: null, spawnError }))).toMatchObject({ kind: "crash" });
    expect(classifyGeminiRun(run({ exitCode: null, signal: "SIGSEGV", stderr: "" }))).toMatchObject({
      kind: "crash",
      detail: expect.stringContaining("SIGSEGV"),
    });
  });

  it("geminiFailureClass reads the text markers", () => {
    expect(geminiFailureClass('{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}')).toBe("rate-limited");
    expect(geminiFailureClass("You have exhausted your daily quota on this model.")).toBe("quota");
    expect(geminiFailureClass("generate a reply")).toBeUndefined();
  });
});

describe("geminiRunReader (read line by line, bounded)", () => {
  function verdictOf(stdout: string, maxReplyBytes: number, maxLine = 1_000) {
    const reader = geminiRunReader(maxReplyBytes);
    const lines = new StdoutLines(reader, maxLine, maxReplyBytes);
    for (let i = 0; i < stdout.length; i += 4096) lines.push(stdout.slice(i, i + 4096));
    lines.end();
    return reader.verdict(run({}));
  }
  const toolResult = (output: string) =>
    JSON.stringify({ type: "tool_result", timestamp: TS, tool_id: "t1", status: "success", output });

  it("finds the answer after MBs of tool output", () => {
    const stdout = [init, user, toolResult("x".repeat(3_000_000)), piece("the "), piece("answer"), success].join("\n");
    expect(verdictOf(stdout, 10_000)).toEqual({
      kind: "ok",
      text: "the answer",
      sessionId: SESSION,
      usage: { input_tokens: 256, output_tokens: 22, cache_read_input_tokens: 0, model: "gemini-3.5-flash-lite" },
    });
  });

  it("an answer longer than max_reply_bytes, in many pieces or one long one, is cut with the marker", () => {
    const many = [init, ...Array.from({ length: 5_000 }, (_, i) => piece(`piece ${i} `)), success].join("\n");
    const one = [init, piece(`START${"w".repeat(50_000)}`), success].join("\n");
    for (const stdout of [many, one]) {
      const verdict = verdictOf(stdout, 4_096);
      expect(verdict).toMatchObject({ kind: "ok", sessionId: SESSION, cut: true });
      const text = verdict.kind === "ok" ? verdict.text : "";
      expect(text.endsWith(cutMarker(4_096))).toBe(true);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4_096);
    }
  });

  it("keeps the latest 32 error lines only", () => {
    const errors = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({ type: "error", timestamp: TS, message: `error ${i}` }),
    );
    expect(readGeminiStream([init, ...errors].join("\n")).errors).toEqual(
      Array.from({ length: 32 }, (_, i) => `error ${168 + i}`),
    );
  });
});
