import * as z from "zod";
import type { TurnUsage } from "../executor.js";
import {
  answerCap,
  EVIDENCE_CHARS,
  eventParser,
  type LineReader,
  type RunReader,
  type RunVerdict,
  runReader,
} from "./classify.js";
import type { ProcessRun } from "./process.js";
import { DEFAULT_MAX_REPLY_BYTES, LatestTexts, ReplyPieces } from "./reply-cap.js";

// Gemini CLI 0.61.0's `-o stream-json` output (measured; docs/AGENTS.md), one JSON event per stdout line:
//   {"type":"init","timestamp":"…","session_id":"<uuid>","model":"auto"}
//   {"type":"message","timestamp":"…","role":"user","content":"say hi"}
//   {"type":"message","timestamp":"…","role":"assistant","content":"Hello from fake-","delta":true}   (streamed pieces)
//   {"type":"result","timestamp":"…","status":"success","stats":{"total_tokens":…,"input_tokens":…,"output_tokens":…,…}}
// A failure ends with `{"type":"result","status":"error","error":{"type":…,"message":"[API Error: …]"}}` and
// exit code = the HTTP status mod 256 (401 → 145); an empty answer is exit 0 with an `error` line and
// `result.status:"error"`. Failures before the turn (auth, resume, trust) print on stderr only.

/**
 * Token counts of the last `result` line's `stats`: this run's only (measured: a resumed session's
 * result counts the resumed turn's requests, whose input holds the history, not the earlier turns).
 */
export interface GeminiUsage {
  /** `input_tokens`: the prompt tokens, the cached ones included. */
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** `cached`: the part of `inputTokens` read from the cache. */
  cachedTokens: number;
  /** `input`: `inputTokens` without the cached part, when the CLI gives it. */
  uncachedInputTokens?: number;
  /**
   * The `stats.models` key with the most tokens: the model that did most of the work (with model
   * `auto` the router's classifier model is listed too; the main model's requests carry the system
   * prompt and the tools, so against the real API it has the most).
   */
  model?: string;
}

/** What one run's JSONL said. @internal */
export interface GeminiStreamFacts {
  /** `init.session_id`: the session id to resume next time. */
  sessionId?: string;
  /** The concatenated `content` of the assistant messages ("" when none), capped at max_reply_bytes. */
  answer: string;
  /** The answer was longer than max_reply_bytes: `answer` is its start and the marker. */
  answerCut?: boolean;
  /** The last `result` line's status (`"success"`, `"error"`…), when there was one. */
  status?: string;
  /** The last `result` line's `error.message`. */
  failure?: string;
  usage?: GeminiUsage;
  /** The `error` lines' messages, oldest first: the latest 32, each cut at 16 000 characters. */
  errors: string[];
}

const count = z.number().int().nonnegative().catch(0);
const EVENT = z.discriminatedUnion("type", [
  z.object({ type: z.literal("init"), session_id: z.string().min(1).optional().catch(undefined) }),
  z.object({ type: z.literal("message"), role: z.string(), content: z.string().catch("") }),
  z.object({
    type: z.literal("result"),
    status: z.string().catch("unknown"),
    error: z
      .object({ message: z.string().catch("") })
      .optional()
      .catch(undefined),
    stats: z
      .object({
        input_tokens: count,
        output_tokens: count,
        total_tokens: count,
        cached: count,
        input: z.number().int().nonnegative().optional().catch(undefined),
        models: z
          .record(z.string(), z.object({ total_tokens: count }).loose().catch({ total_tokens: 0 }))
          .optional()
          .catch(undefined),
      })
      .optional()
      .catch(undefined),
  }),
  z.object({ type: z.literal("error"), message: z.string().catch("") }),
]);
type GeminiEvent = z.infer<typeof EVENT>;

const events = eventParser<GeminiEvent>(EVENT);

const DETAIL_MAX = 2_000;
/** The most of one failure message kept as evidence (its markers may come after a long preamble). */
const EVIDENCE_MAX = EVIDENCE_CHARS;

/**
 * Reads `gemini -o stream-json` stdout line by line, tolerating noise and unknown event types; keeps
 * the facts only (the answer capped at `maxReplyBytes`). @internal
 */
export function createGeminiReader(maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): LineReader<GeminiStreamFacts> {
  const facts: Omit<GeminiStreamFacts, "errors" | "answer"> = {};
  const pieces = new ReplyPieces(maxReplyBytes);
  const errors = new LatestTexts(32, EVIDENCE_MAX);
  function event(e: GeminiEvent | undefined, contentCut: boolean): void {
    switch (e?.type) {
      case "init":
        if (e.session_id) facts.sessionId = e.session_id;
        break;
      case "message":
        if (e.role === "assistant") pieces.append(e.content, contentCut);
        break;
      case "result":
        facts.status = e.status;
        if (e.error?.message) facts.failure = e.error.message.slice(0, EVIDENCE_MAX);
        else delete facts.failure;
        if (e.stats) {
          const model = Object.entries(e.stats.models ?? {}).sort(
            ([, a], [, b]) => b.total_tokens - a.total_tokens,
          )[0]?.[0];
          facts.usage = {
            inputTokens: e.stats.input_tokens,
            outputTokens: e.stats.output_tokens,
            totalTokens: e.stats.total_tokens,
            cachedTokens: e.stats.cached,
            ...(e.stats.input !== undefined ? { uncachedInputTokens: e.stats.input } : {}),
            ...(model ? { model } : {}),
          };
        }
        break;
      case "error":
        errors.add(e.message);
        break;
      default:
        break;
    }
  }
  return {
    line: (text) => event(events.line(text), false),
    long: (line) =>
      event(
        events.value(line.value),
        line.cuts.some((path) => path.join(".") === "content"),
      ),
    stringCap: answerCap(["content"], maxReplyBytes),
    facts() {
      const reply = pieces.reply();
      return { ...facts, answer: reply.text, ...(reply.cut ? { answerCut: true } : {}), errors: errors.list() };
    },
  };
}

/** Reads a whole `gemini -o stream-json` stdout at once (tests). @internal */
export function readGeminiStream(stdout: string, maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): GeminiStreamFacts {
  const reader = createGeminiReader(maxReplyBytes);
  for (const line of stdout.split("\n")) reader.line(line);
  return reader.facts();
}

/** The failure classes of Gemini CLI 0.61.0. @internal */
export type GeminiFailureClass =
  | "auth"
  | "quota"
  | "rate-limited"
  | "server"
  | "model"
  | "session-missing"
  | "session-clash"
  | "no-input"
  | "untrusted"
  | "network";

// Text markers, first match wins, in this order (a daily quota 429 is not a retryable rate limit).
const TEXT_CLASSES: readonly (readonly [GeminiFailureClass, RegExp])[] = [
  ["session-clash", /already exists\. Use --resume/i],
  ["session-missing", /Error resuming session|Invalid session identifier|No previous sessions found/i],
  ["no-input", /No input provided via stdin/i],
  ["untrusted", /not running in a trusted directory/i],
  [
    "auth",
    /API_KEY_INVALID|API key not valid|UNAUTHENTICATED|PERMISSION_DENIED|Please set an Auth method|Invalid auth method selected|Manual authorization is required|When using Gemini API, you must specify|When using Vertex AI, you must specify/i,
  ],
  ["quota", /exhausted your daily quota/i],
  ["rate-limited", /RESOURCE_EXHAUSTED|\b429\b/],
  ["model", /ModelNotFoundError|is not found for API version/i],
  ["server", /"status":\s*"(?:INTERNAL|UNAVAILABLE)"|\b50[0-4]\b.*(?:INTERNAL|UNAVAILABLE|overloaded)/i],
  ["network", /fetch failed sending request|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT/i],
];

/** The class a failure text names, else `undefined`. @internal */
export function geminiFailureClass(text: string): GeminiFailureClass | undefined {
  return TEXT_CLASSES.find(([, pattern]) => pattern.test(text))?.[0];
}

/** The class an exit code names on its own (exit code = HTTP status mod 256 in stream-json mode). */
function exitClass(code: number | null, text: string): GeminiFailureClass | undefined {
  switch (code) {
    case 41:
      return "auth";
    case 55:
      return "untrusted";
    case 145: // 401
    case 147: // 403
      return "auth";
    case 144: // 400: auth only for a bad key
      return /API_KEY_INVALID|API key not valid/i.test(text) ? "auth" : undefined;
    case 173: // 429
      return /exhausted your daily quota/i.test(text) ? "quota" : "rate-limited";
    default:
      // 500…511 → 244…255
      return code !== null && code >= 244 && code <= 255 ? "server" : undefined;
  }
}

/** Lines of stderr worth showing: not the CLI's startup noise, not stack frames. */
function stderrEvidence(stderr: string): string {
  return stderr
    .split("\n")
    .map((line) => line.trimEnd())
    .filter(
      (line) =>
        line.trim() !== "" &&
        !/^\s+at /.test(line) &&
        !/256-color support|Ripgrep is not available|\[STARTUP\]|YOLO mode is enabled|Security Warning/.test(line),
    )
    .join("\n");
}

/**
 * Classifies one `gemini -o stream-json` run. Ok needs exit 0, a last `result` with status
 * `success` and a non-empty answer (an empty or safety-blocked answer exits 0 too). Failures: the
 * exit code first (41 auth, 42 session/input, 55 untrusted, HTTP status mod 256), then the text
 * of `result.error`, the `error` lines and stderr. `facts`: what the run's `createGeminiReader` kept
 * (the default reads `run.stdout`, only its start). @internal
 */
export function classifyGeminiRun(
  run: ProcessRun,
  facts: GeminiStreamFacts = readGeminiStream(run.stdout),
): RunVerdict {
  if (run.spawnError)
    return { kind: "crash", detail: `could not start the agent: ${run.spawnError.code ?? run.spawnError.message}` };
  if (run.cancelled) return { kind: "cancelled" };
  if (run.timedOut) return { kind: "timeout" };

  const answer = facts.answer.trim();
  if (run.exitCode === 0 && facts.status === "success" && answer) {
    return {
      kind: "ok",
      text: answer,
      ...(facts.sessionId ? { sessionId: facts.sessionId } : {}),
      ...(facts.answerCut ? { cut: true } : {}),
    };
  }

  const stderr = stderrEvidence(run.stderr);
  const evidence = [...(facts.failure ? [facts.failure] : []), ...[...facts.errors].reverse(), stderr];
  const detail =
    (evidence.find((text) => text.trim() !== "") ?? "").trim().slice(0, DETAIL_MAX) ||
    `exit ${run.exitCode ?? run.signal}`;

  if (run.exitCode === 0) {
    return {
      kind: "agent-error",
      detail: answer
        ? `the agent exited 0 but its turn did not succeed: ${detail}`
        : `the agent exited 0 with an empty answer: ${detail}`,
    };
  }

  const all = evidence.join("\n");
  const found = geminiFailureClass(all) ?? exitClass(run.exitCode, all);
  // The exit code outranks a text marker except for the exit-42 family, which only the text tells apart.
  const byCode = run.exitCode === 42 ? undefined : exitClass(run.exitCode, all);
  switch (byCode ?? found) {
    case "session-missing":
    case "session-clash":
      // A stale id, or a new id that already exists (a failed first turn): the runner retries once, fresh.
      return { kind: "session-missing" };
    case "auth":
      return { kind: "auth", detail };
    case "quota":
      return { kind: "rate-limited", retryable: false, detail };
    case "rate-limited":
    case "server":
      return { kind: "rate-limited", retryable: true, detail };
    case "model":
      return { kind: "agent-error", detail: `the model is not available: ${detail}` };
    case "network":
      return { kind: "agent-error", detail: `the model API could not be reached: ${detail}` };
    case "no-input":
      return { kind: "agent-error", detail: `the agent got no message: ${detail}` };
    case "untrusted":
      return { kind: "agent-error", detail: `the agent refused the workspace as untrusted: ${detail}` };
    default:
      break;
  }
  if (run.signal) return { kind: "crash", detail: `the agent died of ${run.signal}` };
  return { kind: "agent-error", detail };
}

/**
 * A run's usage as a TurnUsage: input without the cached part (which is `cache_read_input_tokens`),
 * the model `configured` (`-m`), else the one that produced the most. Gemini CLI computes no cost.
 * @internal
 */
export function geminiTurnUsage(usage: GeminiUsage, configured?: string): TurnUsage {
  const model = configured ?? usage.model;
  return {
    input_tokens: usage.uncachedInputTokens ?? Math.max(0, usage.inputTokens - usage.cachedTokens),
    output_tokens: usage.outputTokens,
    cache_read_input_tokens: usage.cachedTokens,
    ...(model ? { model } : {}),
  };
}

/**
 * A reader of one run, for the runner: the answer capped at `maxReplyBytes`; the verdict carries
 * the run's usage (`model`: the configured one, if any). @internal
 */
export function geminiRunReader(maxReplyBytes: number, model?: string): RunReader {
  return runReader(createGeminiReader(maxReplyBytes), (run, facts) => {
    const verdict = classifyGeminiRun(run, facts);
    return facts.usage ? { ...verdict, usage: geminiTurnUsage(facts.usage, model) } : verdict;
  });
}
