import os from "node:os";
import { nonEmpty } from "./agent-probes.js";
import { AGENTS, DEFAULT_AGENT, getAgent, type KnownAgent } from "./agents.js";
import type { Clock } from "./clock.js";
import { AuthError } from "./errors.js";

/** Where the agent's credentials stand, from the files and env alone. */
export type AgentAuthState =
  | "ok"
  | "expiring"
  | "refreshable"
  | "expired"
  | "missing"
  | "unreadable"
  | "no-token"
  | "no-scope";

/** Which credential the verdict is based on. */
export type AgentAuthMethod =
  | "oauth-file"
  | "api-key-file"
  | "api-key-env"
  | "oauth-token-env"
  | "auth-token-env"
  | "vertex-env"
  | "adc";

export interface AgentAuthResult {
  /** True when the agent can be expected to authenticate (states ok, expiring, refreshable). */
  ok: boolean;
  state: AgentAuthState;
  /** One sentence for an operator: what was found and, when not ok, what to do. Never a secret. */
  reason: string;
  warnings: string[];
  /** The access token's expiry, epoch ms, when the credentials file states one. */
  expiresAt?: number;
  method?: AgentAuthMethod;
  /**
   * What to do, when the probe knows better than the descriptor's `reloginHint` (e.g. with a model
   * API base URL only the key variable counts, so a login would not help). Never a secret.
   */
  fix?: string;
}

/** What a probe gets: everything resolved, nothing read yet. */
export interface AgentAuthContext {
  home: string;
  env: Record<string, string | undefined>;
  /**
   * The runtime's state dir (`MOLECULE_STATE_DIR`). When set, an agent whose home is not given by
   * its own env var (`CODEX_HOME`, `GEMINI_CLI_HOME`) lives in `<stateDir>/agents/<id>`, as the
   * runtime runs it; when unset, the CLI's own default under `home` is read.
   */
  stateDir?: string | undefined;
  /** The directory the agent runs in (Gemini CLI reads `.env` files from it upwards). Default: none. */
  cwd?: string | undefined;
  /**
   * `runtime_config.base_url`, when the runtime points the agent at that model API. A probe then
   * counts only the credentials the agent uses there: Codex (a custom provider whose `env_key` is
   * `CODEX_API_KEY`) and Gemini CLI (auth type `gemini-api-key`) only their key variable, not a
   * login. Default: none.
   */
  baseUrl?: string | undefined;
  /** epoch ms */
  now: number;
  skewSeconds: number;
  expiringWithinSeconds: number;
}

/**
 * One agent's token-free, network-free credential check. Each descriptor in `AGENTS` carries one
 * (`authProbe`); pass your own as `checkAgentAuth({ agent, probe })` for any other agent.
 */
export interface AgentAuthProbe {
  /** Reads env vars and files only; never runs the agent, never touches the network. */
  check(context: AgentAuthContext): Promise<AgentAuthResult>;
  /** The credential files `check` reads, for a watcher to notice a re-login (default: none). */
  credentialFiles?(context: Pick<AgentAuthContext, "home" | "env" | "stateDir">): string[];
}

export interface CheckAgentAuthOptions {
  /** Which agent's credentials to check. */
  agent: KnownAgent | (string & {});
  /** Home directory. Default `env.HOME`, then `os.homedir()`. */
  home?: string;
  /** Environment to read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * The runtime's state dir: agent homes default to `<stateDir>/agents/<id>` (see
   * {@link AgentAuthContext.stateDir}). Default `env.MOLECULE_STATE_DIR`, else none.
   */
  stateDir?: string | undefined;
  /** The directory the agent runs in (for Gemini CLI's `.env` lookup). Default: none. */
  cwd?: string | undefined;
  /** `runtime_config.base_url`, when the runtime runs the agent with it (see {@link AgentAuthContext.baseUrl}). */
  baseUrl?: string | undefined;
  /** Gives "now" for expiry. Default: the real clock. */
  clock?: Pick<Clock, "now">;
  /** A token expiring within this many seconds counts as expired. Default 60. */
  skewSeconds?: number;
  /** A token expiring within this many seconds is `expiring` (still ok). Default 3600. */
  expiringWithinSeconds?: number;
  /**
   * A probe for an agent without a built-in one (or to replace the built-in one). Its reasons are
   * returned as they are; a built-in probe's not-ok reason gets the agent's `reloginHint` appended.
   */
  probe?: AgentAuthProbe;
}

function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message: `checkAgentAuth: ${name} must be a number of seconds >= 0, got ${String(value)}`,
    });
  }
  return value;
}

/**
 * Token-free, network-free check of an agent CLI's credentials: runs the probe of the agent's
 * descriptor in `AGENTS` (or `options.probe`), which reads env vars and the agent's credentials
 * file, never runs the CLI, never sends anything. Rejects only for bad options or an agent without
 * a probe (`E_AUTH_BAD_OPTIONS`, `E_AUTH_UNKNOWN_AGENT`).
 */
export async function checkAgentAuth(options: CheckAgentAuthOptions): Promise<AgentAuthResult> {
  if (typeof options !== "object" || options === null || typeof options.agent !== "string") {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message: `checkAgentAuth needs { agent }, e.g. { agent: "${DEFAULT_AGENT}" }`,
    });
  }
  const descriptor = options.probe ? undefined : getAgent(options.agent);
  const probe = options.probe ?? descriptor?.authProbe;
  if (!probe) {
    throw new AuthError({
      code: "E_AUTH_UNKNOWN_AGENT",
      message: `no credential probe for agent "${options.agent}"; use one of ${AGENTS.map((a) => a.id).join(", ")} or pass { probe }`,
    });
  }
  const env = options.env ?? process.env;
  const home = options.home ?? (nonEmpty(env.HOME) ? env.HOME : os.homedir());
  const stateDir = options.stateDir ?? (nonEmpty(env.MOLECULE_STATE_DIR) ? env.MOLECULE_STATE_DIR : undefined);
  const result = await probe.check({
    home,
    env,
    ...(stateDir === undefined ? {} : { stateDir }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(nonEmpty(options.baseUrl) ? { baseUrl: options.baseUrl } : {}),
    now: (options.clock ?? Date).now(),
    skewSeconds: seconds("skewSeconds", options.skewSeconds, 60),
    expiringWithinSeconds: seconds("expiringWithinSeconds", options.expiringWithinSeconds, 3600),
  });
  if (!result.ok && descriptor) result.reason = `${result.reason}. ${result.fix ?? descriptor.reloginHint}`;
  return result;
}
