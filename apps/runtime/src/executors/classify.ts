import type { TurnUsage } from "../executor.js";
import { ASK_USER_TOOL, askedUserError, claudeResultFacts } from "./claude-events.js";
import type { ProcessRun } from "./process.js";
import { capReply, DEFAULT_MAX_REPLY_BYTES, LatestTexts } from "./reply-cap.js";
import type { JsonPath, LongLine } from "./stdout-lines.js";

/**
 * How one agent process run ended, before the executor's retries:
 * the daemon's outcomes plus two that only trigger a retry. Any verdict may carry the run's
 * `usage` when the agent's output reports it (every agent's reader fills it the same way; the
 * runner hands it to the reply, whatever the outcome).
 * @internal
 */
export type RunVerdict = RunEnd & { usage?: TurnUsage };

/** @internal */
export type RunEnd =
  /** `cut`: the answer was longer than max_reply_bytes; `text` is its start and the marker. */
  | { kind: "ok"; text: string; sessionId?: string; cut?: boolean }
  | { kind: "session-missing" }
  /** The conversation no longer fits the model's context window: every later turn in it would fail too. */
  | { kind: "context-full"; detail: string }
  | { kind: "init-timeout" }
  | { kind: "auth"; detail: string }
  | { kind: "rate-limited"; retryable: boolean; detail: string; retryAfterMs?: number }
  /** `error`: safe for the caller (the reply's `error`), when the run knows better than the generic text. */
  | { kind: "agent-error"; detail: string; error?: string }
  | { kind: "timeout" }
  | { kind: "cancelled" }
  | { kind: "crash"; detail: string };

export interface TextMatchers {
  isAuthFailureText(text: string): boolean;
  isMissingSessionError(text: string): boolean;
}

const INIT_TIMEOUT = /control request timeout: initialize/i;
// Whole words only: "generate" must not match "rate", "4290" must not match "429".
const RATE_LIMIT = /(?<![\w-])(429|529|overloaded|rate[ _-]?limit(?:ed)?|too many requests)(?![\w-])/i;
const USAGE_CAP = /hit your (?:usage )?limit|usage limit reached/i;

/** What one run's stream-json said; bounded whatever the run printed. @internal */
export interface StreamFacts {
  /** The last `result` line; its text capped at max_reply_bytes (`cut` when it was longer). */
  result?: { isError: boolean; text: string; cut: boolean; sessionId?: string; apiErrorStatus?: number };
  /** The synthetic assistant lines' `error` kinds, the latest 32. */
  errorKinds: string[];
  apiRetries: number;
  sessionId?: string;
  /** The assistant's text parts, the latest 32 (each cut at 16 000 characters): for text markers. */
  assistantText: string[];
  /** Lines that are not JSON events, the latest 32 (each cut at 16 000 characters): for text markers. */
  otherText: string[];
  /** The last `result` line's usage (this invocation's), cost and model. */
  usage?: TurnUsage;
  /** The tools the last `result` says were denied: headless, the agent stopped to ask for permission. */
  permissionDenials: string[];
  /** The model called the ask-the-user tool, which a headless turn cannot answer. */
  askedUser: boolean;
}

/** An incremental reader of one run's stdout: fed every line, keeping only the facts. @internal */
export interface LineReader<F> {
  line(text: string): void;
  long(line: LongLine): void;
  /** In a long JSON line: how much of the string at `path` to keep (the answer: all of max_reply_bytes; the rest: evidence). */
  stringCap(path: JsonPath): number;
  facts(): F;
}

/** The most kept of a string that is not the answer, in a long line (error messages, noise): evidence only. @internal */
export const EVIDENCE_CHARS = 16_000;

/** A `stringCap` keeping `maxReplyBytes` of the string at `answer` and evidence of every other. @internal */
export function answerCap(answer: JsonPath, maxReplyBytes: number): (path: JsonPath) => number {
  const at = answer.join("\u0000");
  return (path) => (path.join("\u0000") === at ? maxReplyBytes : EVIDENCE_CHARS);
}

/** One run's reader: fed every stdout line as it arrives (keeping only the facts), then asked how the run ended. @internal */
export interface RunReader {
  line(text: string): void;
  /** A line longer than the line limit (read as bounded JSON). */
  long?(line: LongLine): void;
  /** In a long JSON line: how much of the string at `path` to keep (default: max_reply_bytes). */
  stringCap?(path: JsonPath): number;
  /** How the run ended. `ok` needs a non-empty answer: exit 0 alone is never enough. */
  verdict(run: ProcessRun): RunVerdict;
}

/** A `RunReader` of an agent's line reader and its classifier. @internal */
export function runReader<F>(reader: LineReader<F>, classify: (run: ProcessRun, facts: F) => RunVerdict): RunReader {
  return {
    line: reader.line,
    long: reader.long,
    stringCap: reader.stringCap,
    verdict: (run) => classify(run, reader.facts()),
  };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Reads Claude Code's stream-json (or a single json result) line by line, tolerating noise lines;
 * keeps the facts only (the answer capped at `maxReplyBytes`), so a run of any length is read in
 * bounded memory. @internal
 */
export function createStreamReader(maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): LineReader<StreamFacts> {
  let result: StreamFacts["result"];
  let sessionId: string | undefined;
  let apiRetries = 0;
  let usage: TurnUsage | undefined;
  let permissionDenials: string[] = [];
  let askedUser = false;
  const errorKinds = new LatestTexts(32, 200);
  const assistantText = new LatestTexts();
  const otherText = new LatestTexts();

  function event(e: Record<string, unknown>, resultCut: boolean): void {
    if (typeof e.session_id === "string") sessionId = e.session_id;
    if (e.type === "assistant") {
      if (typeof e.error === "string") errorKinds.add(e.error);
      const content = record(e.message)?.content;
      if (Array.isArray(content)) {
        for (const part of content) {
          const text = record(part)?.text;
          if (typeof text === "string") assistantText.add(text);
          if (record(part)?.type === "tool_use" && record(part)?.name === ASK_USER_TOOL) askedUser = true;
        }
      }
    } else if (e.type === "system" && e.subtype === "api_retry") {
      apiRetries += 1;
    } else if (e.type === "result") {
      const status = e.api_error_status;
      const reply = capReply(typeof e.result === "string" ? e.result : "", maxReplyBytes, resultCut);
      ({ usage, permissionDenials } = claudeResultFacts(e));
      result = {
        isError: e.is_error === true,
        text: reply.text,
        cut: reply.cut,
        ...(typeof e.session_id === "string" ? { sessionId: e.session_id } : {}),
        ...(typeof status === "number" ? { apiErrorStatus: status } : {}),
      };
    }
  }

  return {
    line(raw) {
      const line = raw.trim();
      if (!line) return;
      let parsed: Record<string, unknown> | undefined;
      if (line.startsWith("{")) {
        try {
          parsed = record(JSON.parse(line));
        } catch {
          parsed = undefined;
        }
      }
      if (parsed) event(parsed, false);
      else otherText.add(line);
    },
    long(line) {
      const parsed = record(line.value);
      if (!parsed) {
        otherText.add(line.head.trim());
        return;
      }
      event(
        parsed,
        line.cuts.some((path) => path.length === 1 && path[0] === "result"),
      );
    },
    stringCap: answerCap(["result"], maxReplyBytes),
    facts: () => ({
      ...(result ? { result } : {}),
      errorKinds: errorKinds.list(),
      apiRetries,
      ...(sessionId !== undefined ? { sessionId } : {}),
      assistantText: assistantText.list(),
      otherText: otherText.list(),
      ...(usage ? { usage } : {}),
      permissionDenials,
      askedUser,
    }),
  };
}

/** Reads a whole stdout at once (tests, and the command executor's kept start of stdout). @internal */
export function readStream(stdout: string, maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): StreamFacts {
  const reader = createStreamReader(maxReplyBytes);
  for (const line of stdout.split("\n")) reader.line(line);
  return reader.facts();
}

/**
 * Classifies one run of an agent CLI. Structured facts first (the synthetic assistant line's
 * `error` kind, `is_error`, `api_error_status`), text markers on stdout *and* stderr as the fallback.
 * Exit 0 is never enough: an empty or missing result is a failed turn. `facts` are what the run's
 * `createStreamReader` kept of all its output (the default reads `run.stdout`, only its start).
 * @internal
 */
export function classifyRun(
  run: ProcessRun,
  matchers: TextMatchers,
  facts: StreamFacts = readStream(run.stdout),
): RunVerdict {
  const verdict = classifyEnd(run, matchers, facts);
  return facts.usage ? { ...verdict, usage: facts.usage } : verdict;
}

function classifyEnd(run: ProcessRun, matchers: TextMatchers, facts: StreamFacts): RunEnd {
  if (run.spawnError)
    return { kind: "crash", detail: `could not start the agent: ${run.spawnError.code ?? run.spawnError.message}` };
  if (run.cancelled) return { kind: "cancelled" };
  if (run.timedOut) return { kind: "timeout" };

  // The result's start is enough for the markers (an error result is short; an answer may be MBs).
  const allText = [
    facts.result?.text.slice(0, 64 * 1024) ?? "",
    ...facts.assistantText,
    ...facts.otherText,
    run.stderr,
  ].join("\n");

  if (matchers.isMissingSessionError(allText)) return { kind: "session-missing" };
  if (INIT_TIMEOUT.test(allText)) return { kind: "init-timeout" };

  const failed = run.exitCode !== 0 || facts.result?.isError === true || facts.errorKinds.length > 0;
  if (!failed) {
    // Headless, a permission prompt is auto-denied and the question tool is not enabled: the model
    // goes on without, and its "answer" is most likely a request the caller cannot grant here.
    if (facts.permissionDenials.length > 0 || facts.askedUser) {
      const error = askedUserError(facts);
      return { kind: "agent-error", detail: error, error };
    }
    const text = facts.result?.text.trim() ?? "";
    if (facts.result && text) {
      return {
        kind: "ok",
        text,
        ...(facts.result.sessionId ? { sessionId: facts.result.sessionId } : {}),
        ...(facts.result.cut ? { cut: true } : {}),
      };
    }
    return {
      kind: "agent-error",
      detail: facts.result ? "the agent exited 0 with an empty result" : "the agent exited 0 without a result",
    };
  }

  const detail = allText.trim().slice(0, 2_000) || `exit ${run.exitCode ?? run.signal}`;
  const kind = facts.errorKinds.at(-1);
  const status = facts.result?.apiErrorStatus;
  if (kind === "authentication_failed" || status === 401 || status === 403) return { kind: "auth", detail };
  if (USAGE_CAP.test(allText)) return { kind: "rate-limited", retryable: false, detail };
  if (kind === "rate_limit" || kind === "server_error" || status === 429 || status === 529 || (status ?? 0) >= 500) {
    return { kind: "rate-limited", retryable: true, detail };
  }
  if (kind === undefined && matchers.isAuthFailureText(allText)) return { kind: "auth", detail };
  if (kind === undefined && RATE_LIMIT.test(allText)) return { kind: "rate-limited", retryable: true, detail };
  if (run.signal && run.signal !== "SIGTERM") return { kind: "crash", detail: `the agent died of ${run.signal}` };
  return { kind: "agent-error", detail };
}

/**
 * One agent's JSONL event schema as two readers: `line` parses a stdout line (noise, a malformed
 * line or an unknown event type is `undefined`), `value` checks an already-parsed value (a long
 * line parsed as it streamed). @internal
 */
export function eventParser<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }) {
  const value = (parsed: unknown): T | undefined => {
    const result = schema.safeParse(parsed);
    return result.success ? result.data : undefined;
  };
  const line = (raw: string): T | undefined => {
    const text = raw.trim();
    if (!text.startsWith("{")) return undefined;
    try {
      return value(JSON.parse(text));
    } catch {
      return undefined;
    }
  };
  return { line, value };
}
