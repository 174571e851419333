import type { AgentAuthProbe } from "./agent-auth.js";
import {
  checkClaudeCodeCredentials,
  checkCodexCredentials,
  checkEndpointCredentials,
  checkGeminiCliCredentials,
  claudeCodeCredentialFiles,
  codexCredentialFiles,
  geminiCliCredentialFiles,
} from "./agent-probes.js";

/** An agent version that is known to misbehave, and why. */
export interface KnownBadVersion {
  /** A semver range, e.g. `">=2.1.0 <2.1.5"` (`@molecule/preflight` matches it against `--version`). */
  readonly range: string;
  /** One sentence for an operator: what goes wrong with these versions. */
  readonly reason: string;
}

/**
 * An agent that is a model server the daemon talks to over HTTP (an OpenAI-compatible
 * `POST {base_url}/chat/completions`), not a CLI it runs.
 */
export interface AgentEndpoint {
  /** `runtime_config.base_url` when unset, ending in `/v1`, e.g. `"http://127.0.0.1:11434/v1"`. */
  readonly defaultBaseUrl: string;
  /** The command that fetches a model the server does not have, e.g. `"ollama pull"` (the model's name follows). */
  readonly pullCommand?: string;
}

/**
 * Everything the runtime, preflight and the CLI need to know about one agent CLI. The one place
 * an agent's facts live: add an agent by adding a descriptor (and its probe) here.
 */
export interface AgentDescriptor<Id extends string = string> {
  /** The `runtime` value in config.yaml that selects this agent, e.g. `"claude-code"`. */
  readonly id: Id;
  /**
   * The executable looked up on `PATH` (`runtime_config.command` overrides it). Absent for an agent
   * with an `endpoint` (no CLI): preflight's agent-binary check skips it.
   */
  readonly binary?: string;
  /** The arguments that make the binary print its version and exit 0, e.g. `["--version"]` (`[]` without a binary). */
  readonly versionArgs: readonly string[];
  /** Env vars that carry the agent's credentials (the env alternative to a login), in precedence order. */
  readonly credentialEnv: readonly string[];
  /** One sentence (a fix) telling an operator how to log the agent in again. */
  readonly reloginHint: string;
  /** How to install the binary; preflight's fix when it is not on `PATH`. */
  readonly installHint?: string;
  /** The token-free, network-free credential check (`checkAgentAuth` runs it). */
  readonly authProbe: AgentAuthProbe;
  /** True when the runtime resumes this agent's sessions across turns (every built-in CLI: Claude Code's `--resume`, Codex's `resume <thread_id>`, Gemini CLI's `--resume`); false for an `endpoint` agent, whose history the daemon keeps itself. */
  readonly supportsResume: boolean;
  /** The npm package the CLI ships in, e.g. `"@openai/codex"` (`molecule dev --agent` installs it). */
  readonly npmPackage?: string;
  /** The CLI version this descriptor's facts were measured with, e.g. `"0.169.0"`. */
  readonly testedVersion?: string;
  /** Versions preflight warns about (a warning, never a failure). Default: none. */
  readonly knownBadVersions?: readonly KnownBadVersion[];
  /** Set for an agent served over HTTP instead of a CLI: preflight's agent-endpoint check reads it. */
  readonly endpoint?: AgentEndpoint;
}

/** Keeps a descriptor's `id` as a literal type, so `KnownAgent` follows the list below. */
const descriptor = <const Id extends string>(agent: AgentDescriptor<Id>): AgentDescriptor<Id> => agent;

const BUILT_IN = [
  descriptor({
    id: "claude-code",
    binary: "claude",
    versionArgs: ["--version"],
    credentialEnv: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"],
    reloginHint:
      "Log the agent in again as the user the runtime runs as: run `claude` and `/login` (or `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN), or set ANTHROPIC_API_KEY.",
    installHint: "Install Claude Code (npm install -g @anthropic-ai/claude-code) so `claude` is on PATH.",
    authProbe: { check: checkClaudeCodeCredentials, credentialFiles: claudeCodeCredentialFiles },
    supportsResume: true,
    npmPackage: "@anthropic-ai/claude-code",
    testedVersion: "2.1.197",
    knownBadVersions: [],
  }),
  descriptor({
    id: "codex",
    binary: "codex",
    versionArgs: ["--version"],
    credentialEnv: ["CODEX_API_KEY"],
    reloginHint:
      "Set CODEX_API_KEY in the runtime's environment, or run `codex login` with CODEX_HOME set to the runtime's Codex home (Codex ignores OPENAI_API_KEY).",
    installHint: "Install Codex (npm install -g @openai/codex) so `codex` is on PATH.",
    authProbe: { check: checkCodexCredentials, credentialFiles: codexCredentialFiles },
    supportsResume: true,
    npmPackage: "@openai/codex",
    testedVersion: "0.169.0",
    knownBadVersions: [],
  }),
  descriptor({
    id: "gemini-cli",
    binary: "gemini",
    versionArgs: ["--version"],
    credentialEnv: ["GEMINI_API_KEY"],
    reloginHint:
      "Set GEMINI_API_KEY in the runtime's environment, or log in with `gemini` (or set the Vertex AI variables) with GEMINI_CLI_HOME set to the runtime's Gemini home.",
    installHint: "Install Gemini CLI (npm install -g @google/gemini-cli) so `gemini` is on PATH.",
    authProbe: { check: checkGeminiCliCredentials, credentialFiles: geminiCliCredentialFiles },
    supportsResume: true,
    npmPackage: "@google/gemini-cli",
    testedVersion: "0.61.0",
    knownBadVersions: [],
  }),
  descriptor({
    // A local model (Ollama by default; vLLM, llama.cpp's server, LM Studio or a gateway alike):
    // no CLI, the daemon keeps each context's history and posts it to {base_url}/chat/completions.
    id: "ollama",
    versionArgs: [],
    credentialEnv: ["OPENAI_API_KEY"],
    reloginHint:
      "No login is needed for a local model server; for a gateway that wants a key, set OPENAI_API_KEY (sent as Authorization: Bearer).",
    installHint: "Install Ollama (or another OpenAI-compatible server), start it, and pull the model.",
    authProbe: { check: checkEndpointCredentials },
    supportsResume: false,
    endpoint: { defaultBaseUrl: "http://127.0.0.1:11434/v1", pullCommand: "ollama pull" },
  }),
];

/**
 * The id of a built-in agent. Spelled out (not derived from `BUILT_IN`) so the API report lists
 * every id and adding an agent shows in `auth.api.md`; the check below keeps it equal to the list.
 */
export type KnownAgent = "claude-code" | "codex" | "gemini-cli" | "ollama";

/** `true` when A and B are the same set of string literals. */
type SameIds<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Compile-time: a descriptor added to (or removed from) BUILT_IN without the same change to
// `KnownAgent` fails typecheck here.
true satisfies SameIds<KnownAgent, (typeof BUILT_IN)[number]["id"]>;

function freeze(descriptor: AgentDescriptor<KnownAgent>): AgentDescriptor<KnownAgent> {
  const knownBad = descriptor.knownBadVersions?.map((v) => Object.freeze({ ...v }));
  return Object.freeze({
    ...descriptor,
    versionArgs: Object.freeze([...descriptor.versionArgs]),
    credentialEnv: Object.freeze([...descriptor.credentialEnv]),
    authProbe: Object.freeze({ ...descriptor.authProbe }),
    ...(descriptor.endpoint ? { endpoint: Object.freeze({ ...descriptor.endpoint }) } : {}),
    ...(knownBad ? { knownBadVersions: Object.freeze(knownBad) } : {}),
  });
}

/**
 * The built-in agents, one frozen descriptor each, in a stable order (claude-code first). Pass your
 * own list (e.g. `[...AGENTS, myAgent]`) where a package takes `agents`.
 */
export const AGENTS: readonly AgentDescriptor<KnownAgent>[] = Object.freeze(BUILT_IN.map(freeze));

/**
 * The agent a config without `runtime` runs, and the one commands fall back to when no config names
 * an agent. Every default in the repository reads it from here (the config schema's aside, which
 * cannot depend on this package: a test pins the two equal).
 */
export const DEFAULT_AGENT = "claude-code" satisfies KnownAgent;

/**
 * The built-in descriptor whose `id` is `id` (a config's `runtime`), or `undefined` when there is
 * none — e.g. for the `command` runtime, which runs any executable and is not an agent. Never throws.
 */
export function getAgent(id: string): AgentDescriptor<KnownAgent> | undefined {
  return AGENTS.find((agent) => agent.id === id);
}
