/** The runtimes DESIGN.md knows: the built-in Claude Code executor and the generic command executor's. */
export const KNOWN_RUNTIMES: readonly string[] = Object.freeze(["claude-code", "codex", "gemini-cli", "command"]);

/** The agent binary each known runtime runs (`command` uses `runtime_config.command`). @internal */
export const AGENT_BINARIES: Readonly<Record<string, string>> = {
  "claude-code": "claude",
  codex: "codex",
  "gemini-cli": "gemini",
};

/** Env vars that carry each agent's credentials (the env alternative to a login). @internal */
export const AGENT_CREDENTIAL_ENV: Readonly<Record<string, readonly string[]>> = {
  "claude-code": ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"],
  codex: ["OPENAI_API_KEY"],
  "gemini-cli": ["GEMINI_API_KEY"],
};

/** How to log each agent back in. @internal */
export const RELOGIN_FIX: Readonly<Record<string, string>> = {
  "claude-code":
    "Log the agent in again as the user the runtime runs as: run `claude` and `/login` (or `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN), or set ANTHROPIC_API_KEY.",
  codex: "Run `codex login` as the user the runtime runs as, or set OPENAI_API_KEY.",
  "gemini-cli": "Set GEMINI_API_KEY for the runtime.",
};
