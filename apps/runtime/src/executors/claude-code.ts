import { isAuthFailureText } from "@molecule/auth";
import {
  isMissingSessionError,
  planResume,
  type RecordTurnOptions,
  recordTurn,
  type SessionStore,
} from "@molecule/session";
import type { Executor, TurnRequest } from "../executor.js";
import type { Logger } from "../logger.js";
import { classifyRun, type RunVerdict } from "./classify.js";
import { type AgentGroupListener, runProcess } from "./process.js";

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
}

const WEDGE_REASON = "claude-code init timeout — restart workspace";

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * The built-in executor: drives the real Claude Code CLI,
 * `claude -p --output-format stream-json --verbose [--resume <id>]`, message on stdin,
 * in the workspace directory, in its own process group.
 */
export function createClaudeCodeExecutor(options: ClaudeCodeExecutorOptions): Executor {
  const command = options.command ?? "claude";
  const baseEnv = options.env ?? process.env;
  const retries = options.rateLimitRetries ?? 2;
  const backoffMs = options.rateLimitBackoffMs ?? 2_000;
  const log = options.logger;

  // Bound the CLI's own retries and per-request wait so they fit inside our turn timeout
  // (its defaults: 10 retries over ~3 minutes, 600 s per request).
  const maxRetries = baseEnv.CLAUDE_CODE_MAX_RETRIES ?? "2";
  const perRequestMs =
    options.timeoutMs > 0 ? Math.max(10_000, Math.floor(options.timeoutMs / (Number(maxRetries) + 1 || 3))) : 300_000;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    CLAUDE_CODE_MAX_RETRIES: maxRetries,
    API_TIMEOUT_MS: baseEnv.API_TIMEOUT_MS ?? String(perRequestMs),
    DISABLE_AUTOUPDATER: baseEnv.DISABLE_AUTOUPDATER ?? "1",
  };

  function args(resume: string | undefined): string[] {
    const list = ["-p", "--output-format", "stream-json", "--verbose"];
    if (resume) list.push("--resume", resume);
    if (options.model) list.push("--model", options.model);
    if (options.systemPrompt) list.push("--append-system-prompt", options.systemPrompt);
    if (options.effort) list.push("--effort", options.effort);
    list.push(...(options.extraArgs ?? []));
    return list;
  }

  async function attempt(turn: TurnRequest, resume: string | undefined, timeoutMs: number): Promise<RunVerdict> {
    let retriesSeen = 0;
    const run = await runProcess({
      command,
      args: args(resume),
      cwd: options.cwd,
      env,
      stdin: turn.text,
      timeoutMs,
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      signal: turn.signal,
      groups: options.groups,
      onStdoutLine(line) {
        if (line.includes('"api_retry"')) {
          retriesSeen += 1;
          turn.progress(`model API retry ${retriesSeen}`);
          log?.info(
            { event: "turn.api_retry", taskId: turn.taskId, attempt: retriesSeen },
            "the agent is retrying the model API",
          );
        }
      },
    });
    const verdict = classifyRun(run, { isAuthFailureText, isMissingSessionError });
    log?.debug?.(
      {
        event: "turn.run",
        taskId: turn.taskId,
        resumed: Boolean(resume),
        exitCode: run.exitCode,
        verdict: verdict.kind,
        ms: run.durationMs,
      },
      "agent run finished",
    );
    return verdict;
  }

  /** Records the turn in the session store; a failed write is reported (with a retry), never the turn's failure. */
  async function record(store: SessionStore, what: RecordTurnOptions): Promise<void> {
    try {
      await recordTurn(store, what);
    } catch (error) {
      if (!options.onStateWriteError) throw error;
      // The retry writes what the store holds then (never this turn's id over a newer one).
      const retry = async () => {
        const current = await store.get();
        if (current) await store.set(current);
        else await store.clear();
      };
      options.onStateWriteError("session", error, retry);
    }
  }

  return {
    name: "claude-code",
    async runTurn(turn) {
      const deadline = options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
      const sessionOptions = {
        agent: "claude-code" as const,
        cwd: options.cwd,
        env: baseEnv,
        ...(options.searchDirs ? { searchDirs: options.searchDirs } : {}),
        ...(log ? { logger: log } : {}),
      };
      // The turn's conversation: its own session store, or the default one.
      const store = turn.session ?? options.sessionStore;
      let { resume } = await planResume(store, sessionOptions);
      let freshRetried = false;
      let rateRetries = 0;
      for (;;) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) return { outcome: "timeout" };
        const verdict = await attempt(turn, resume, Number.isFinite(remaining) ? remaining : 0);
        switch (verdict.kind) {
          case "ok":
            await record(store, { sessionId: verdict.sessionId, result: "ok" });
            return { outcome: "ok", text: verdict.text };
          case "session-missing":
          case "init-timeout":
            if (resume && !freshRetried) {
              // A stale or broken session: forget it and retry once, fresh. The user never sees this.
              log?.info(
                { event: "session.dropped_after_failure", sessionId: resume, why: verdict.kind },
                "dropping the session id and retrying the turn once without --resume",
              );
              await record(store, { result: "session-missing" });
              freshRetried = true;
              resume = undefined;
              continue;
            }
            if (verdict.kind === "init-timeout") return { outcome: "wedged", wedgeReason: WEDGE_REASON };
            return { outcome: "agent-error", detail: "the agent reported a missing session on a fresh turn" };
          case "rate-limited":
            if (verdict.retryable && rateRetries < retries) {
              rateRetries += 1;
              const wait = backoffMs * 2 ** (rateRetries - 1);
              turn.progress(`rate-limited, retry ${rateRetries}/${retries} in ${Math.round(wait / 1000)} s`);
              await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), turn.signal);
              if (turn.signal.aborted) return { outcome: "cancelled" };
              continue;
            }
            await record(store, { result: "failed" });
            return { outcome: "rate-limited", detail: verdict.detail };
          case "timeout":
          case "cancelled":
            await record(store, { result: "failed" });
            return { outcome: verdict.kind };
          default:
            await record(store, { result: "failed" });
            return { outcome: verdict.kind, detail: verdict.detail };
        }
      }
    },
  };
}
