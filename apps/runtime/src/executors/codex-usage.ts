import { open } from "node:fs/promises";
import { findAgentTranscript } from "@molecule/session";
import type { TurnUsage } from "../executor.js";

// Codex CLI 0.169.0's `turn.completed.usage` is cumulative for the thread (measured: input 26999 →
// 40674 → 54455 over a turn and two resumed ones), restored from the thread's rollout file on resume.
// The rollout ends each model request with an `event_msg` line
//   {"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":26999,
//    "cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":90,"reasoning_output_tokens":0,
//    "total_tokens":27089},"last_token_usage":{…}},…}}
// so the thread's cumulative figure before a turn is the last `total_token_usage` in its rollout:
// read before the turn, it survives a daemon restart and counts what failed turns spent too.

/** Token counts as Codex reports them (cumulative for the thread). @internal */
export interface CodexUsage {
  /** Codex's `input_tokens`: every input token, the cached ones included (the Responses API's count). */
  inputTokens: number;
  /** `cached_input_tokens`: the part of `inputTokens` read from the prompt cache. */
  cachedInputTokens: number;
  /** `cache_write_input_tokens`. */
  cacheWriteInputTokens: number;
  /** `output_tokens`: every output token, reasoning included. */
  outputTokens: number;
  reasoningOutputTokens: number;
}

/** How far back from a rollout's end the last `token_count` is looked for. */
const MAX_TAIL_BYTES = 8 * 1_048_576;
const CHUNK = 65_536;
const MARKER = '"token_count"';

const count = (value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;

/** A rollout line's `total_token_usage`, when it is a `token_count` event that has one. @internal */
export function cumulativeOfRolloutLine(line: string): CodexUsage | undefined {
  if (!line.includes(MARKER)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  const payload = (parsed as { payload?: { type?: unknown; info?: { total_token_usage?: unknown } | null } })?.payload;
  const total = payload?.type === "token_count" ? payload.info?.total_token_usage : undefined;
  if (typeof total !== "object" || total === null) return undefined;
  const t = total as Record<string, unknown>;
  return {
    inputTokens: count(t.input_tokens),
    cachedInputTokens: count(t.cached_input_tokens),
    cacheWriteInputTokens: count(t.cache_write_input_tokens),
    outputTokens: count(t.output_tokens),
    reasoningOutputTokens: count(t.reasoning_output_tokens),
  };
}

/**
 * The last cumulative usage recorded in a rollout file, read backwards from its end (at most 8 MiB),
 * or `undefined` when it has none (a thread whose first request never completed). Never throws.
 * @internal
 */
export async function lastRolloutCumulative(path: string): Promise<CodexUsage | undefined> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    file = await open(path, "r");
    const size = (await file.stat()).size;
    let end = size;
    let carry = Buffer.alloc(0);
    while (end > 0 && size - end < MAX_TAIL_BYTES) {
      const start = Math.max(0, end - CHUNK);
      const chunk = Buffer.alloc(end - start);
      await file.read(chunk, 0, chunk.length, start);
      const buffer = Buffer.concat([chunk, carry]);
      // The first piece may be a cut line: keep it for the next (earlier) chunk unless at the start.
      const firstNewline = start === 0 ? -1 : buffer.indexOf(10);
      const whole = firstNewline === -1 ? buffer : buffer.subarray(firstNewline + 1);
      const lines = whole.toString("utf8").split("\n");
      for (let i = lines.length - 1; i >= 0; i -= 1) {
        const found = cumulativeOfRolloutLine(lines[i] ?? "");
        if (found) return found;
      }
      carry = firstNewline === -1 ? Buffer.alloc(0) : buffer.subarray(0, firstNewline + 1);
      end = start;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

/**
 * Thread `threadId`'s cumulative usage before its next turn (from its rollout in `codexHome`), if
 * any. `agent` is the executor's agent id (the session package finds the rollout by it). @internal
 */
export async function threadCumulative(
  codexHome: string,
  threadId: string,
  agent: Parameters<typeof findAgentTranscript>[1]["agent"],
): Promise<CodexUsage | undefined> {
  const found = await findAgentTranscript(threadId, { agent, home: codexHome }).catch(() => undefined);
  return found?.exists && found.path ? lastRolloutCumulative(found.path) : undefined;
}

/**
 * This turn's usage: the thread's cumulative figure after the turn minus the one before it (none
 * for a new thread). Should a figure be lower than before (Codex started counting anew), the
 * turn's own figure is taken as is rather than a negative one.
 *
 * `input_tokens` is Codex's count minus the cached part: Codex passes the Responses API's counts
 * through (measured: an API usage of input 1000 with 600 cached, output 10 with 4 reasoning came out
 * as `input_tokens: 1000, cached_input_tokens: 600, output_tokens: 10, reasoning_output_tokens: 4`),
 * so its `input_tokens` includes the cached tokens, which TurnUsage leaves out where the agent tells
 * them apart; `output_tokens` includes the reasoning tokens. Codex computes no cost.
 * @internal
 */
export function codexTurnUsage(after: CodexUsage, before: CodexUsage | undefined, model?: string): TurnUsage {
  const keys = [
    "inputTokens",
    "cachedInputTokens",
    "cacheWriteInputTokens",
    "outputTokens",
    "reasoningOutputTokens",
  ] as const;
  const restarted = before !== undefined && keys.some((key) => after[key] < before[key]);
  const base = before && !restarted ? before : undefined;
  const turn = (key: (typeof keys)[number]) => after[key] - (base?.[key] ?? 0);
  const cached = turn("cachedInputTokens");
  return {
    input_tokens: Math.max(0, turn("inputTokens") - cached),
    output_tokens: turn("outputTokens"),
    cache_read_input_tokens: cached,
    cache_creation_input_tokens: turn("cacheWriteInputTokens"),
    ...(model ? { model } : {}),
  };
}
