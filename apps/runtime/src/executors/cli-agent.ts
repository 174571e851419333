import {
  planResume,
  type RecordTurnOptions,
  type ResolveResumeOptions,
  recordTurn,
  type SessionStore,
} from "@molecule/session";
import type { Executor, TurnActivity, TurnReply, TurnRequest } from "../executor.js";
import type { Logger } from "../logger.js";
import type { RunReader, RunVerdict } from "./classify.js";
import { type AgentGroupListener, runProcess } from "./process.js";
import { DEFAULT_MAX_REPLY_BYTES } from "./reply-cap.js";

/** One run of the agent: resume this session, or start a new one (with this id, for agents that take one). */
export interface RunPlan {
  /** The session id to resume, or `undefined` for a new session. */
  resume: string | undefined;
  /** For agents that choose a new session's id up front (`newSessionId`): the id to start it with. */
  fresh: string | undefined;
}

/**
 * What differs between agent CLIs; everything else (the process group, the deadline, the session
 * store, the stale-session retry, the rate-limit retry, the empty-output rule) is shared. @internal
 */
export interface CliAgentSpec {
  /** The executor's name (the registry id). */
  readonly name: string;
  /** Where the agent keeps its transcripts: the resume gate checks one exists before resuming. */
  readonly session: Omit<ResolveResumeOptions, "logger">;
  /** The command line of one run (the message goes on stdin, then stdin is closed). */
  args(plan: RunPlan): string[];
  /** Agents that take a new session's id on the command line (Gemini CLI's `--session-id`). */
  newSessionId?(): string;
  /**
   * A reader of one run: fed every stdout line as it arrives (however long the output, it keeps only
   * the facts, the answer capped at `maxReplyBytes`), then asked how the run ended. `ok` needs a
   * non-empty answer: exit 0 alone is never enough.
   */
  read(maxReplyBytes: number): RunReader;
  /**
   * Each stdout line as it arrives; `note` reports progress to the caller (e.g. a model API retry),
   * `activity` what the agent did (a tool call, its result, thinking).
   */
  onLine?(line: string, note: (text: string) => void, activity: (event: TurnActivity) => void): void;
  /** A stdout line too long to hold whole (e.g. a tool's huge output), as bounded JSON: like `onLine`. */
  onLongLine?(value: unknown, note: (text: string) => void, activity: (event: TurnActivity) => void): void;
  /** The wedge reason for an `init-timeout` verdict. */
  readonly wedgeReason?: string;
  /** After a successful turn, with its session id: tidy what the CLI left (never fails the turn). */
  afterOk?(sessionId: string): Promise<void>;
}

/** The runtime side of an agent executor, the same for every agent. @internal */
export interface CliAgentOptions {
  command: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where the session id is kept for turns that bring none of their own (the default context). */
  sessionStore: SessionStore;
  /** 0 = no limit. */
  timeoutMs: number;
  /** Retries of a rate-limited/overloaded turn (default 2). */
  rateLimitRetries?: number | undefined;
  /** First backoff of a rate-limit retry (default 2 000 ms, doubled each time). */
  rateLimitBackoffMs?: number | undefined;
  killGraceMs?: number | undefined;
  logger?: Logger | undefined;
  groups?: AgentGroupListener | undefined;
  onStateWriteError?: ((what: string, error: unknown, retry: () => Promise<void>) => void) | undefined;
  /** Runs before every turn (e.g. creating the agent's private TMPDIR). */
  prepare?: (() => Promise<void>) | undefined;
  /** `runtime_config.max_reply_bytes`: the most of an answer the caller gets (default 8 MiB); beyond, it is cut with a marker. */
  maxReplyBytes?: number | undefined;
}

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
 * An executor that drives an agent CLI one process per turn, in its own process group, with the
 * message on stdin: resumes the context's session when its transcript exists, retries once fresh
 * when the agent reports the session missing (the caller never sees it), backs off on rate limits,
 * and ends the turn at the deadline with the whole process group killed. @internal
 */
export function createCliAgentExecutor(spec: CliAgentSpec, options: CliAgentOptions): Executor {
  const retries = options.rateLimitRetries ?? 2;
  const backoffMs = options.rateLimitBackoffMs ?? 2_000;
  const log = options.logger;
  const maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;

  async function attempt(turn: TurnRequest, plan: RunPlan, timeoutMs: number): Promise<RunVerdict> {
    const note = (text: string) => turn.progress(text);
    const activity = (event: TurnActivity) => turn.activity?.(event);
    const reader = spec.read(maxReplyBytes);
    const run = await runProcess({
      command: options.command,
      args: spec.args(plan),
      cwd: options.cwd,
      env: options.env,
      stdin: turn.text,
      timeoutMs,
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      signal: turn.signal,
      groups: options.groups,
      // Every line, however far into the output: the answer may come after MBs of tool output.
      onStdoutLine(line: string) {
        reader.line(line);
        spec.onLine?.(line, note, activity);
      },
      onLongStdoutLine(line) {
        reader.long?.(line);
        spec.onLongLine?.(line.value, note, activity);
      },
      maxStringChars: maxReplyBytes,
      stringCap: reader.stringCap?.bind(reader),
    });
    const verdict = reader.verdict(run);
    if (verdict.kind === "ok" && verdict.cut) {
      log?.warn(
        { event: "turn.reply_cut", taskId: turn.taskId, agent: spec.name, maxReplyBytes },
        `the agent's answer is longer than ${maxReplyBytes} bytes (runtime_config.max_reply_bytes); the caller gets its start and a marker — raise the limit to get more`,
      );
    }
    log?.debug?.(
      {
        event: "turn.run",
        taskId: turn.taskId,
        agent: spec.name,
        resumed: Boolean(plan.resume),
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

  async function runTurn(turn: TurnRequest): Promise<TurnReply> {
    const deadline = options.timeoutMs > 0 ? Date.now() + options.timeoutMs : Number.POSITIVE_INFINITY;
    await options.prepare?.();
    // The turn's conversation: its own session store, or the default one.
    const store = turn.session ?? options.sessionStore;
    let { resume } = await planResume(store, { ...spec.session, ...(log ? { logger: log } : {}) });
    let freshRetried = false;
    let rateRetries = 0;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { outcome: "timeout" };
      const plan: RunPlan = { resume, fresh: resume === undefined ? spec.newSessionId?.() : undefined };
      const verdict = await attempt(turn, plan, Number.isFinite(remaining) ? remaining : 0);
      // The run's usage as its agent reported it (the reader's verdict carries it), whatever the outcome.
      const usage = verdict.usage ? { usage: verdict.usage } : {};
      switch (verdict.kind) {
        case "ok": {
          const sessionId = verdict.sessionId ?? plan.fresh;
          await record(store, { sessionId, result: "ok" });
          if (sessionId && spec.afterOk) {
            await spec
              .afterOk(sessionId)
              .catch((error: unknown) =>
                log?.warn(
                  { event: "turn.after_ok_failed", agent: spec.name, error: String(error) },
                  "tidying after the turn failed",
                ),
              );
          }
          return { outcome: "ok", text: verdict.text, ...usage };
        }
        case "session-missing":
        case "init-timeout":
          if (!freshRetried && (resume !== undefined || plan.fresh !== undefined)) {
            // A stale or broken session (or a new id that clashed): forget it and retry once, fresh.
            // The caller never sees this.
            log?.info(
              { event: "session.dropped_after_failure", sessionId: resume ?? plan.fresh, why: verdict.kind },
              "dropping the session id and retrying the turn once in a new session",
            );
            if (resume !== undefined) await record(store, { result: "session-missing" });
            freshRetried = true;
            resume = undefined;
            continue;
          }
          if (verdict.kind === "init-timeout") {
            return {
              outcome: "wedged",
              wedgeReason: spec.wedgeReason ?? `${spec.name} init timeout — restart workspace`,
            };
          }
          return { outcome: "agent-error", detail: "the agent reported a missing session on a fresh turn" };
        case "context-full":
          // Resuming it again would fail the same way: the next turn of this context starts anew.
          log?.warn(
            { event: "session.dropped_context_full", sessionId: resume },
            "the conversation outgrew the model's context window; its next turn starts a new session",
          );
          await record(store, { result: "session-missing" });
          return {
            outcome: "agent-error",
            detail: verdict.detail,
            error:
              "the conversation no longer fits the model's context window; the next message starts a new conversation",
            ...usage,
          };
        case "rate-limited":
          if (verdict.retryable && rateRetries < retries) {
            rateRetries += 1;
            const wait = verdict.retryAfterMs ?? backoffMs * 2 ** (rateRetries - 1);
            turn.progress(`rate-limited, retry ${rateRetries}/${retries} in ${Math.round(wait / 1000)} s`);
            await sleep(Math.min(wait, Math.max(0, deadline - Date.now())), turn.signal);
            if (turn.signal.aborted) return { outcome: "cancelled" };
            continue;
          }
          await record(store, { result: "failed" });
          return { outcome: "rate-limited", detail: verdict.detail, ...usage };
        case "timeout":
        case "cancelled":
          await record(store, { result: "failed" });
          return { outcome: verdict.kind };
        default:
          await record(store, { result: "failed" });
          return {
            outcome: verdict.kind,
            detail: verdict.detail,
            ...(verdict.kind === "agent-error" && verdict.error ? { error: verdict.error } : {}),
            ...usage,
          };
      }
    }
  }

  return { name: spec.name, runTurn };
}
