import type { ProcessRun } from "./process.js";

/**
 * How one agent process run ended, before the executor's retries:
 * the daemon's outcomes plus two that only trigger a retry.
 * @internal
 */
export type RunVerdict =
  | { kind: "ok"; text: string; sessionId?: string }
  | { kind: "session-missing" }
  /** The conversation no longer fits the model's context window: every later turn in it would fail too. */
  | { kind: "context-full"; detail: string }
  | { kind: "init-timeout" }
  | { kind: "auth"; detail: string }
  | { kind: "rate-limited"; retryable: boolean; detail: string; retryAfterMs?: number }
  | { kind: "agent-error"; detail: string }
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

interface StreamFacts {
  result?: { isError: boolean; text: string; sessionId?: string; apiErrorStatus?: number };
  errorKinds: string[];
  apiRetries: number;
  sessionId?: string;
  assistantText: string[];
  otherText: string[];
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Reads Claude Code's stream-json (or a single json result) from stdout, tolerating noise lines. @internal */
export function readStream(stdout: string): StreamFacts {
  const facts: StreamFacts = { errorKinds: [], apiRetries: 0, assistantText: [], otherText: [] };
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    let event: Record<string, unknown> | undefined;
    if (line.startsWith("{")) {
      try {
        event = record(JSON.parse(line));
      } catch {
        event = undefined;
      }
    }
    if (!event) {
      facts.otherText.push(line);
      continue;
    }
    if (typeof event.session_id === "string") facts.sessionId = event.session_id;
    if (event.type === "assistant") {
      if (typeof event.error === "string") facts.errorKinds.push(event.error);
      const content = record(event.message)?.content;
      if (Array.isArray(content)) {
        for (const part of content) {
          const text = record(part)?.text;
          if (typeof text === "string") facts.assistantText.push(text);
        }
      }
    } else if (event.type === "system" && event.subtype === "api_retry") {
      facts.apiRetries += 1;
    } else if (event.type === "result") {
      const status = event.api_error_status;
      facts.result = {
        isError: event.is_error === true,
        text: typeof event.result === "string" ? event.result : "",
        ...(typeof event.session_id === "string" ? { sessionId: event.session_id } : {}),
        ...(typeof status === "number" ? { apiErrorStatus: status } : {}),
      };
    }
  }
  return facts;
}

/**
 * Classifies one run of an agent CLI. Structured facts first (the synthetic assistant line's
 * `error` kind, `is_error`, `api_error_status`), text markers on stdout *and* stderr as the fallback.
 * Exit 0 is never enough: an empty or missing result is a failed turn.
 * @internal
 */
export function classifyRun(run: ProcessRun, matchers: TextMatchers): RunVerdict {
  if (run.spawnError)
    return { kind: "crash", detail: `could not start the agent: ${run.spawnError.code ?? run.spawnError.message}` };
  if (run.cancelled) return { kind: "cancelled" };
  if (run.timedOut) return { kind: "timeout" };

  const facts = readStream(run.stdout);
  const allText = [facts.result?.text ?? "", ...facts.assistantText, ...facts.otherText, run.stderr].join("\n");

  if (matchers.isMissingSessionError(allText)) return { kind: "session-missing" };
  if (INIT_TIMEOUT.test(allText)) return { kind: "init-timeout" };

  const failed = run.exitCode !== 0 || facts.result?.isError === true || facts.errorKinds.length > 0;
  if (!failed) {
    const text = facts.result?.text.trim() ?? "";
    if (facts.result && text) {
      return { kind: "ok", text, ...(facts.result.sessionId ? { sessionId: facts.result.sessionId } : {}) };
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
