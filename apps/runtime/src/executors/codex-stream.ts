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
import { codexAskedUserError } from "./codex-activity.js";
import { type CodexUsage, codexTurnUsage } from "./codex-usage.js";
import type { ProcessRun } from "./process.js";
import { capReply, DEFAULT_MAX_REPLY_BYTES, LatestTexts } from "./reply-cap.js";

// Codex CLI 0.169.0's `exec --json` output (measured; docs/AGENTS.md), one JSON event per stdout line:
//   {"type":"thread.started","thread_id":"<uuid>"}                      (line 1; on resume, the resumed id)
//   {"type":"turn.started"}
//   {"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"…"}}
//   {"type":"turn.completed","usage":{"input_tokens":…,"output_tokens":…,…}}  (cumulative for the thread)
// A failure: `{"type":"error","message":"Reconnecting... n/N (…)"}` per visible retry, then
// `{"type":"error","message":…}` and `{"type":"turn.failed","error":{"message":…}}`, exit 1.
// Failures before the turn (resume lookup, usage) print nothing on stdout: `Error: …` on stderr.

export type { CodexUsage };

/** What one run's JSONL said. @internal */
export interface CodexStreamFacts {
  /** `thread.started.thread_id`: the session id to resume next time. */
  threadId?: string;
  /** The text of the last `agent_message` item ("" when none), capped at max_reply_bytes. */
  answer: string;
  /** The answer was longer than max_reply_bytes: `answer` is its start and the marker. */
  answerCut?: boolean;
  /** A `turn.completed` line was seen. */
  completed: boolean;
  /** `turn.completed.usage`: cumulative for the thread (see codex-usage.ts). */
  usage?: CodexUsage;
  /** `turn.failed.error.message`, when the turn failed (its first 16 000 characters). */
  failure?: string;
  /** The `error` lines' messages, oldest first (the visible retries among them): the latest 32, each cut at 16 000 characters. */
  errors: string[];
}

const count = z.number().int().nonnegative().catch(0);
const EVENT = z.discriminatedUnion("type", [
  z.object({ type: z.literal("thread.started"), thread_id: z.string().min(1) }),
  z.object({
    type: z.literal("item.completed"),
    item: z.object({ type: z.string(), text: z.string().optional() }),
  }),
  z.object({
    type: z.literal("turn.completed"),
    usage: z
      .object({
        input_tokens: count,
        cached_input_tokens: count,
        cache_write_input_tokens: count,
        output_tokens: count,
        reasoning_output_tokens: count,
      })
      .optional()
      .catch(undefined),
  }),
  z.object({ type: z.literal("turn.failed"), error: z.object({ message: z.string() }).optional().catch(undefined) }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);
type CodexEvent = z.infer<typeof EVENT>;

const events = eventParser<CodexEvent>(EVENT);

const DETAIL_MAX = 2_000;
/** The most of one failure message kept as evidence (its markers may come after a long preamble). */
const EVIDENCE_MAX = EVIDENCE_CHARS;

/**
 * Reads `codex exec --json` stdout line by line, tolerating noise and unknown event types; keeps the
 * facts only (the answer capped at `maxReplyBytes`). @internal
 */
export function createCodexReader(maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): LineReader<CodexStreamFacts> {
  const facts: Omit<CodexStreamFacts, "errors"> = { answer: "", completed: false };
  const errors = new LatestTexts(32, EVIDENCE_MAX);
  function event(e: CodexEvent | undefined, textCut: boolean): void {
    switch (e?.type) {
      case "thread.started":
        facts.threadId = e.thread_id;
        break;
      case "item.completed":
        if (e.item.type === "agent_message" && e.item.text !== undefined) {
          const reply = capReply(e.item.text, maxReplyBytes, textCut);
          facts.answer = reply.text;
          if (reply.cut) facts.answerCut = true;
          else delete facts.answerCut;
        }
        break;
      case "turn.completed":
        facts.completed = true;
        if (e.usage) {
          facts.usage = {
            inputTokens: e.usage.input_tokens,
            cachedInputTokens: e.usage.cached_input_tokens,
            cacheWriteInputTokens: e.usage.cache_write_input_tokens,
            outputTokens: e.usage.output_tokens,
            reasoningOutputTokens: e.usage.reasoning_output_tokens,
          };
        }
        break;
      case "turn.failed":
        facts.failure = (e.error?.message ?? "the turn failed").slice(0, EVIDENCE_MAX);
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
        line.cuts.some((path) => path.join(".") === "item.text"),
      ),
    stringCap: answerCap(["item", "text"], maxReplyBytes),
    facts: () => ({ ...facts, errors: errors.list() }),
  };
}

/** Reads a whole `codex exec --json` stdout at once (tests). @internal */
export function readCodexStream(stdout: string, maxReplyBytes = DEFAULT_MAX_REPLY_BYTES): CodexStreamFacts {
  const reader = createCodexReader(maxReplyBytes);
  for (const line of stdout.split("\n")) reader.line(line);
  return reader.facts();
}

const RETRY = /^Reconnecting\.\.\.\s*(\d+)\s*\//;

/**
 * The attempt number of a visible model API retry line (`{"type":"error","message":"Reconnecting... 2/5 (…)"}`),
 * else `undefined`. The unbounded "Reconnecting... waiting for network" has no number: 0. @internal
 */
export function codexRetryOf(line: string): number | undefined {
  if (!line.includes("Reconnecting")) return undefined;
  const event = events.line(line);
  if (event?.type !== "error" || !event.message.startsWith("Reconnecting")) return undefined;
  return Number(RETRY.exec(event.message)?.[1] ?? 0);
}

/** The failure classes of Codex CLI 0.169.0, each with the text that marks it. @internal */
export type CodexFailureClass =
  | "auth"
  | "rate-limited"
  | "quota"
  | "context-full"
  | "model"
  | "session-missing"
  | "server"
  | "network";

// First match wins, in this order (a quota 429 is not a retryable rate limit).
const CLASSES: readonly (readonly [CodexFailureClass, RegExp])[] = [
  // A rollout gone, or one Codex cannot read as a thread (garbage, no session metadata).
  ["session-missing", /no rollout found for thread id|thread\/resume failed: failed to read thread/i],
  [
    "auth",
    /\b401 Unauthorized\b|\b403 Forbidden\b|Missing environment variable|could not be refreshed|log out and sign in again/i,
  ],
  ["quota", /Quota exceeded/i],
  ["rate-limited", /\b429 Too Many Requests\b|exceeded retry limit/i],
  ["context-full", /ran out of room in the model's context window/i],
  ["model", /does not exist or you do not have access/i],
  ["network", /Connection failed|waiting for network/i],
  [
    "server",
    /experiencing high demand|stream disconnected before completion|\b5\d\d (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b/i,
  ],
];

/** The class a failure text names, else `undefined`. @internal */
export function codexFailureClass(text: string): CodexFailureClass | undefined {
  return CLASSES.find(([, pattern]) => pattern.test(text))?.[0];
}

/** stderr's `ERROR: …` / `Error: …` lines (the evidence of a failure before the turn), last first. */
function stderrErrors(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^(ERROR|Error|error):/.test(line))
    .reverse();
}

/**
 * Classifies one `codex exec --json` run. The evidence, in order: `turn.failed`'s message, the
 * `error` lines (last first), stderr's `ERROR:`/`Error:` lines, then the whole of stderr. Ok needs
 * exit 0, `turn.completed` and a non-empty answer: a response without an output item exits 0 too.
 * `facts`: what the run's `createCodexReader` kept (the default reads `run.stdout`, only its start).
 * @internal
 */
export function classifyCodexRun(run: ProcessRun, facts: CodexStreamFacts = readCodexStream(run.stdout)): RunVerdict {
  if (run.spawnError)
    return { kind: "crash", detail: `could not start the agent: ${run.spawnError.code ?? run.spawnError.message}` };
  if (run.cancelled) return { kind: "cancelled" };
  if (run.timedOut) return { kind: "timeout" };

  if (run.exitCode === 0) {
    const text = facts.answer.trim();
    const asked = facts.completed ? codexAskedUserError(run.stderr) : undefined;
    if (asked) return { kind: "agent-error", detail: asked, error: asked };
    if (facts.completed && text) {
      return {
        kind: "ok",
        text,
        ...(facts.threadId ? { sessionId: facts.threadId } : {}),
        ...(facts.answerCut ? { cut: true } : {}),
      };
    }
    return {
      kind: "agent-error",
      detail: facts.completed
        ? "the agent exited 0 with an empty answer (the model sent no message)"
        : "the agent exited 0 without completing the turn",
    };
  }

  const evidence = [
    ...(facts.failure !== undefined ? [facts.failure] : []),
    ...[...facts.errors].reverse(),
    ...stderrErrors(run.stderr),
    run.stderr,
  ];
  const detail =
    (evidence.find((text) => text.trim() !== "") ?? "").trim().slice(0, DETAIL_MAX) ||
    `exit ${run.exitCode ?? run.signal}`;
  let found: CodexFailureClass | undefined;
  for (const text of evidence) {
    found = codexFailureClass(text);
    if (found) break;
  }
  switch (found) {
    case "session-missing":
      return { kind: "session-missing" };
    case "auth":
      return { kind: "auth", detail };
    case "quota":
      return { kind: "rate-limited", retryable: false, detail };
    case "rate-limited":
    case "server":
      // Codex has already retried (and honoured a `retry-after`); the runner backs off and tries again.
      return { kind: "rate-limited", retryable: true, detail };
    case "context-full":
      return { kind: "context-full", detail: `the conversation is larger than the model's context window: ${detail}` };
    case "model":
      return { kind: "agent-error", detail: `the model is not available: ${detail}` };
    case "network":
      return { kind: "agent-error", detail: `the model API could not be reached: ${detail}` };
    default:
      break;
  }
  if (run.exitCode === 2) return { kind: "agent-error", detail: `the agent rejected its command line: ${detail}` };
  if (run.exitCode === 143 || run.signal === "SIGTERM")
    return { kind: "crash", detail: "the agent was terminated (SIGTERM) by something other than the runtime" };
  if (run.signal) return { kind: "crash", detail: `the agent died of ${run.signal}` };
  return { kind: "agent-error", detail };
}

/**
 * A reader of one run, for the runner: the answer capped at `maxReplyBytes`; the verdict carries
 * `usageOf(facts)` (by default the thread's cumulative figure as this turn's: right for a new thread
 * only — the executor passes the thread's figure before the turn). @internal
 */
export function codexRunReader(
  maxReplyBytes: number,
  usageOf: (facts: CodexStreamFacts) => TurnUsage | undefined = (facts) =>
    facts.usage ? codexTurnUsage(facts.usage, undefined) : undefined,
): RunReader {
  return runReader(createCodexReader(maxReplyBytes), (run, facts) => {
    const verdict = classifyCodexRun(run, facts);
    const usage = usageOf(facts);
    return usage ? { ...verdict, usage } : verdict;
  });
}
