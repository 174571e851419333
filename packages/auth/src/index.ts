export type {
  AgentAuthContext,
  AgentAuthMethod,
  AgentAuthProbe,
  AgentAuthResult,
  AgentAuthState,
  CheckAgentAuthOptions,
} from "./agent-auth.js";
export { checkAgentAuth } from "./agent-auth.js";
export { agentHomeDir } from "./agent-home-dir.js";
export type { AgentDescriptor, AgentEndpoint, KnownAgent, KnownBadVersion } from "./agents.js";
export { AGENTS, DEFAULT_AGENT, getAgent } from "./agents.js";
export { isAuthFailureText } from "./auth-failure-text.js";
export type { Clock } from "./clock.js";
export { type CodexProbeOptions, createCodexAuthProbe } from "./codex-probe.js";
export type { AuthErrorCode } from "./errors.js";
export { AuthError } from "./errors.js";
export type { AuthLogger } from "./logger.js";
export type { TokenFileHandle, TokenStat, TokenStoreFs, TokenWatcher } from "./token-fs.js";
export type { RefreshResult, TokenRotatedListener, TokenStore, TokenStoreOptions } from "./token-store.js";
export { createTokenStore } from "./token-store.js";
export { tokensEqual } from "./tokens-equal.js";
