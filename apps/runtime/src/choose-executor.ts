import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { agentHomeDir, getAgent } from "@molecule/auth";
import type { WorkspaceConfig } from "@molecule/config";
import type { SessionStore } from "@molecule/session";
import type { Executor } from "./executor.js";
import type { AgentExecutorOptions } from "./executors/agent-options.js";
import { createClaudeCodeExecutor } from "./executors/claude-code.js";
import { createCodexExecutor } from "./executors/codex.js";
import { createCommandExecutor } from "./executors/command.js";
import { createGeminiCliExecutor } from "./executors/gemini-cli.js";
import { createOllamaExecutor } from "./executors/ollama.js";
import type { AgentGroupListener } from "./executors/process.js";
import type { Logger } from "./logger.js";

export interface ChooseExecutorOptions {
  config: WorkspaceConfig;
  configDir: string;
  /** The agent's cwd. */
  workspaceDir: string;
  /** The daemon's state dir: agent homes default to `<stateDir>/agents/<id>`, private temp dirs to `<stateDir>/tmp/<id>`. */
  stateDir: string;
  env: NodeJS.ProcessEnv;
  sessionStore: SessionStore;
  logger: Logger;
  /** Records each agent's process group (agent-groups.ts). */
  groups?: AgentGroupListener;
  /** A session store write failed; the turn's answer still goes out (state-health.ts). */
  onStateWriteError?: (what: string, error: unknown, retry: () => Promise<void>) => void;
}

async function readPromptFiles(configDir: string, files: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    try {
      parts.push((await readFile(join(configDir, file), "utf8")).trim());
    } catch {
      // preflight already warned about a missing prompt file
    }
  }
  return parts.filter(Boolean).join("\n\n");
}

/**
 * A turn's time limit when `runtime_config.timeout` is unset: 30 minutes for a built-in agent.
 * Real coding turns (edits, test runs) take minutes, so the limit must not cut them short; but every
 * agent CLI has a failure that never ends on its own (Codex waiting for the network forever, Gemini
 * CLI retrying a silent server for ~12 minutes), and a turn that never ends holds a slot forever.
 */
export const DEFAULT_TURN_TIMEOUT_SECONDS = 1800;

/** `runtime_config.timeout`, else the default: finite for a built-in agent, none for the `command` runtime. @internal */
export function turnTimeoutSeconds(config: WorkspaceConfig): number {
  const set = config.runtime_config.timeout;
  if (set !== undefined) return set;
  return getAgent(config.runtime) ? DEFAULT_TURN_TIMEOUT_SECONDS : 0;
}

/** The executors of the agent CLIs whose home the runtime places (`agentHomeDir`). */
const AGENT_EXECUTORS: Readonly<Record<string, (options: AgentExecutorOptions) => Executor>> = {
  codex: createCodexExecutor,
  "gemini-cli": createGeminiCliExecutor,
};

/** The built-in executor for `config.runtime`: the agent CLI's own (Claude Code, Codex, Gemini CLI), or the generic command one. @internal */
export async function chooseExecutor(options: ChooseExecutorOptions): Promise<Executor> {
  const { config, env, workspaceDir } = options;
  const timeoutMs = turnTimeoutSeconds(config) * 1000;
  // The agent registry's binary (the one preflight checked) unless runtime_config.command says.
  const command = config.runtime_config.command ?? getAgent(config.runtime)?.binary ?? config.runtime;
  const endpoint = getAgent(config.runtime)?.endpoint;
  if (config.runtime === "ollama" && endpoint) {
    // No CLI: the daemon posts each context's history to the endpoint (preflight checked the model is set).
    return createOllamaExecutor({
      baseUrl: (config.runtime_config.base_url ?? endpoint.defaultBaseUrl).replace(/\/+$/, ""),
      model: config.runtime_config.model ?? config.model ?? "",
      historyDir: join(options.stateDir, "conversations", config.runtime),
      maxHistoryMessages: config.runtime_config.max_history_messages,
      maxConversations: config.sessions.max_contexts,
      systemPrompt: await readPromptFiles(options.configDir, config.prompt_files ?? ["system-prompt.md"]),
      env,
      timeoutMs,
      logger: options.logger,
      onStateWriteError: options.onStateWriteError,
    });
  }
  if (config.runtime === "claude-code") {
    const model = config.runtime_config.model ?? config.model;
    return createClaudeCodeExecutor({
      command,
      cwd: workspaceDir,
      env,
      sessionStore: options.sessionStore,
      timeoutMs,
      ...(model ? { model } : {}),
      // No prompt_files in the config: system-prompt.md when it is there (a missing one is fine).
      systemPrompt: await readPromptFiles(options.configDir, config.prompt_files ?? ["system-prompt.md"]),
      ...(config.effort ? { effort: config.effort } : {}),
      ...(config.runtime_config.base_url ? { baseUrl: config.runtime_config.base_url } : {}),
      extraArgs: config.runtime_config.args,
      logger: options.logger,
      ...(options.groups ? { groups: options.groups } : {}),
      ...(options.onStateWriteError ? { onStateWriteError: options.onStateWriteError } : {}),
      ...(config.runtime_config.max_reply_bytes ? { maxReplyBytes: config.runtime_config.max_reply_bytes } : {}),
    });
  }
  const homed = AGENT_EXECUTORS[config.runtime];
  const home = agentHomeDir(config.runtime, { env, stateDir: options.stateDir, home: env.HOME || homedir() });
  if (homed && home) {
    const model = config.runtime_config.model ?? config.model;
    return homed({
      command,
      cwd: workspaceDir,
      env,
      home,
      tmpDir: join(options.stateDir, "tmp", config.runtime),
      sessionStore: options.sessionStore,
      timeoutMs,
      model,
      systemPrompt: await readPromptFiles(options.configDir, config.prompt_files ?? ["system-prompt.md"]),
      effort: config.effort,
      extraArgs: config.runtime_config.args,
      baseUrl: config.runtime_config.base_url,
      logger: options.logger,
      groups: options.groups,
      onStateWriteError: options.onStateWriteError,
      maxReplyBytes: config.runtime_config.max_reply_bytes,
    });
  }
  return createCommandExecutor({
    name: config.runtime,
    command,
    args: config.runtime_config.args,
    cwd: workspaceDir,
    env,
    timeoutMs,
    ...(options.groups ? { groups: options.groups } : {}),
    ...(config.runtime_config.max_reply_bytes ? { maxReplyBytes: config.runtime_config.max_reply_bytes } : {}),
    logger: options.logger,
  });
}
