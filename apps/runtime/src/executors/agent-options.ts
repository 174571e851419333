import type { SessionStore } from "@molecule/session";
import type { Logger } from "../logger.js";
import type { AgentGroupListener } from "./process.js";

/**
 * What `chooseExecutor` hands every built-in agent CLI's executor (codex.ts, gemini-cli.ts): the
 * config already read, the agent's home and private TMPDIR already placed. @internal
 */
export interface AgentExecutorOptions {
  /** The binary: the registry's (found on PATH) or `runtime_config.command`. */
  command: string;
  /** The workspace directory the agent works in. */
  cwd: string;
  /** The daemon's environment; the executor adds what its CLI needs and never writes it back. */
  env: NodeJS.ProcessEnv;
  /** The agent's home (`agentHomeDir`): `CODEX_HOME` / `GEMINI_CLI_HOME` as the agent runs. */
  home: string;
  /** A private, daemon-owned temp dir (mode 0700) for the agent's `TMPDIR`. */
  tmpDir: string;
  /** Where the default context's session id is kept. */
  sessionStore: SessionStore;
  /** The turn's time limit (`runtime_config.timeout` or the runtime's default); 0 = none. */
  timeoutMs: number;
  model?: string | undefined;
  /** The workspace's prompt files, joined. */
  systemPrompt?: string | undefined;
  effort?: string | undefined;
  /** `runtime_config.args`: appended to the agent's options. */
  extraArgs?: readonly string[] | undefined;
  /** `runtime_config.base_url`, spelled as the agent's model API spells it. */
  baseUrl?: string | undefined;
  logger?: Logger | undefined;
  groups?: AgentGroupListener | undefined;
  onStateWriteError?: ((what: string, error: unknown, retry: () => Promise<void>) => void) | undefined;
  killGraceMs?: number | undefined;
  rateLimitRetries?: number | undefined;
  rateLimitBackoffMs?: number | undefined;
  /** `runtime_config.max_reply_bytes`: the most of an answer the caller gets (default 8 MiB). */
  maxReplyBytes?: number | undefined;
}
