import { isAuthFailureText } from "@molecule/auth";
import { isMissingSessionError, type SessionStore } from "@molecule/session";
import type { Executor } from "../executor.js";
import type { Logger } from "../logger.js";
import { classifyRun, createStreamReader, runReader } from "./classify.js";
import { createClaudeActivityReader } from "./claude-events.js";
import { createCliAgentExecutor } from "./cli-agent.js";
import type { AgentGroupListener } from "./process.js";

export interface ClaudeCodeExecutorOptions {
  /** The CLI binary (default `claude`, resolved through PATH). */
  command?: string;
  /** The workspace directory the agent works in (its cwd; sessions are stored per cwd). */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Where the session id is kept for turns that bring none of their own (`TurnRequest.session`: the default context). */
  sessionStore: SessionStore;
  /** 0 = no limit. */
  timeoutMs: number;
  model?: string;
  /** Appended with `--append-system-prompt` (the workspace's prompt files). */
  systemPrompt?: string;
  effort?: string;
  /** The model API's base URL (`runtime_config.base_url`): set as `ANTHROPIC_BASE_URL`, the host root. */
  baseUrl?: string;
  /** Extra CLI arguments from `runtime_config.args`. */
  extraArgs?: readonly string[];
  /** Retries of a rate-limited/overloaded turn (default 2). */
  rateLimitRetries?: number;
  /** First backoff of a rate-limit retry (default 2 000 ms, doubled each time). */
  rateLimitBackoffMs?: number;
  killGraceMs?: number;
  logger?: Logger;
  /** Extra claude dirs to look for a transcript of another cwd in (tests pass temp dirs). */
  searchDirs?: string[];
  /** Told about each agent process group (the daemon records them so a kill -9 of it orphans none). */
  groups?: AgentGroupListener;
  /**
   * A session store write failed (a full or read-only state volume). Given: the good answer still
   * goes out, and `retry` redoes the write later. Without it the failure fails the turn.
   */
  onStateWriteError?: (what: string, error: unknown, retry: () => Promise<void>) => void;
  /** `runtime_config.max_reply_bytes`: the most of an answer the caller gets (default 8 MiB); beyond, it is cut with a marker. */
  maxReplyBytes?: number;
}

const WEDGE_REASON = "claude-code init timeout — restart workspace";

/**
 * The built-in executor: drives the real Claude Code CLI,
 * `claude -p --output-format stream-json --verbose [--resume <id>]`, message on stdin,
 * in the workspace directory, in its own process group.
 */
export function createClaudeCodeExecutor(options: ClaudeCodeExecutorOptions): Executor {
  const baseEnv = options.env ?? process.env;
  const log = options.logger;

  // Bound the CLI's own retries and per-request wait so they fit inside our turn timeout
  // (its defaults: 10 retries over ~3 minutes, 600 s per request).
  const maxRetries = baseEnv.CLAUDE_CODE_MAX_RETRIES ?? "2";
  const perRequestMs =
    options.timeoutMs > 0 ? Math.max(10_000, Math.floor(options.timeoutMs / (Number(maxRetries) + 1 || 3))) : 300_000;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    ...(options.baseUrl ? { ANTHROPIC_BASE_URL: options.baseUrl } : {}),
    CLAUDE_CODE_MAX_RETRIES: maxRetries,
    API_TIMEOUT_MS: baseEnv.API_TIMEOUT_MS ?? String(perRequestMs),
    DISABLE_AUTOUPDATER: baseEnv.DISABLE_AUTOUPDATER ?? "1",
  };

  let retriesSeen = 0;
  // Tool calls, their results and thinking, as the stream-json tells them (shared by the turns: ids are unique).
  const activities = createClaudeActivityReader();
  return createCliAgentExecutor(
    {
      name: "claude-code",
      session: {
        agent: "claude-code",
        cwd: options.cwd,
        env: baseEnv,
        ...(options.searchDirs ? { searchDirs: options.searchDirs } : {}),
      },
      wedgeReason: WEDGE_REASON,
      args({ resume }) {
        retriesSeen = 0;
        const list = ["-p", "--output-format", "stream-json", "--verbose"];
        if (resume) list.push("--resume", resume);
        if (options.model) list.push("--model", options.model);
        if (options.systemPrompt) list.push("--append-system-prompt", options.systemPrompt);
        if (options.effort) list.push("--effort", options.effort);
        list.push(...(options.extraArgs ?? []));
        return list;
      },
      read: (maxReplyBytes) =>
        runReader(createStreamReader(maxReplyBytes), (run, facts) =>
          classifyRun(run, { isAuthFailureText, isMissingSessionError }, facts),
        ),
      onLine(line, note, activity) {
        for (const event of activities.line(line)) activity(event);
        if (!line.includes('"api_retry"')) return;
        retriesSeen += 1;
        note(`model API retry ${retriesSeen}`);
        // Once per turn, at debug: every retry is a progress note, which turns.ts logs (one INFO line a turn).
        if (retriesSeen === 1)
          log?.debug?.({ event: "turn.api_retry", attempt: retriesSeen }, "the agent is retrying the model API");
      },
      onLongLine(value, _note, activity) {
        for (const event of activities.value(value)) activity(event);
      },
    },
    {
      command: options.command ?? "claude",
      cwd: options.cwd,
      env,
      sessionStore: options.sessionStore,
      timeoutMs: options.timeoutMs,
      rateLimitRetries: options.rateLimitRetries,
      rateLimitBackoffMs: options.rateLimitBackoffMs,
      killGraceMs: options.killGraceMs,
      logger: log,
      groups: options.groups,
      onStateWriteError: options.onStateWriteError,
      maxReplyBytes: options.maxReplyBytes,
    },
  );
}
