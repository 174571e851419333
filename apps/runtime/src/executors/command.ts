import { isAuthFailureText } from "@molecule/auth";
import type { Executor, TurnReply, TurnRequest } from "../executor.js";
import { commandCheck } from "../executor-checks.js";
import type { Logger } from "../logger.js";
import { classifyRun } from "./classify.js";
import { type AgentGroupListener, runProcess } from "./process.js";
import { capReply, DEFAULT_MAX_REPLY_BYTES } from "./reply-cap.js";

export interface CommandExecutorOptions {
  name?: string;
  command: string;
  args?: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** 0 = no limit. */
  timeoutMs: number;
  killGraceMs?: number;
  /** Told about each agent process group (the daemon records them so a kill -9 of it orphans none). */
  groups?: AgentGroupListener;
  /** `runtime_config.max_reply_bytes`: the most of stdout the caller gets (default 8 MiB); beyond, it is cut with a marker. */
  maxReplyBytes?: number;
  /** Where the WARN of a cut answer goes. */
  logger?: Logger;
}

const neverMissing = () => false;

/**
 * The generic executor for codex, gemini-cli or any command: `command args…` with the message on
 * stdin; stdout is the reply. Same timeout/kill/empty-output rules as the built-in one. Only the
 * reply's start is kept (`maxReplyBytes`): a longer stdout is read to its end and cut with a marker.
 */
export function createCommandExecutor(options: CommandExecutorOptions): Executor {
  const maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  return {
    name: options.name ?? "command",
    // The agent runs with options.env (else the daemon's): its PATH is where the command must be.
    checks: [commandCheck(options.command, { cwd: options.cwd, ...(options.env ? { env: options.env } : {}) })],
    async runTurn(turn: TurnRequest): Promise<TurnReply> {
      const run = await runProcess({
        command: options.command,
        args: options.args ?? [],
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdin: turn.text,
        timeoutMs: options.timeoutMs,
        ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
        signal: turn.signal,
        groups: options.groups,
        // Characters: at least as many bytes; capReply cuts to bytes.
        maxOutputBytes: maxReplyBytes,
      });
      // Plain-text agents: exit 0 with non-empty stdout is the answer.
      if (!run.spawnError && !run.timedOut && !run.cancelled && run.exitCode === 0) {
        const reply = capReply(run.stdout.trim(), maxReplyBytes, run.stdoutCut);
        if (reply.text && !/control request timeout: initialize/i.test(`${run.stdout}\n${run.stderr}`)) {
          if (reply.cut) {
            options.logger?.warn(
              { event: "turn.reply_cut", taskId: turn.taskId, agent: options.name ?? "command", maxReplyBytes },
              `the agent's answer is longer than ${maxReplyBytes} bytes (runtime_config.max_reply_bytes); the caller gets its start and a marker — raise the limit to get more`,
            );
          }
          return { outcome: "ok", text: reply.text };
        }
      }
      const verdict = classifyRun(run, { isAuthFailureText, isMissingSessionError: neverMissing });
      switch (verdict.kind) {
        case "ok":
          return { outcome: "ok", text: verdict.text };
        case "init-timeout":
          return { outcome: "wedged", wedgeReason: `${options.name ?? "agent"} init timeout — restart workspace` };
        case "session-missing":
          return { outcome: "agent-error", detail: "session missing" };
        case "context-full":
          return { outcome: "agent-error", detail: verdict.detail };
        case "rate-limited":
          return { outcome: "rate-limited", detail: verdict.detail };
        case "timeout":
        case "cancelled":
          return { outcome: verdict.kind };
        default:
          return { outcome: verdict.kind, detail: verdict.detail };
      }
    },
  };
}
