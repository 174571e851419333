export { AGENT_VERSION_TIMEOUT_MS, agentAuthCheck, agentBinaryCheck, CHECK_AUTH_ENV } from "./agent-checks.js";
export type { Clock } from "./clock.js";
export {
  authTokenFileCheck,
  effortCheck,
  idleIntervalCheck,
  portCheck,
  promptFilesCheck,
  requiredEnvAnyOfCheck,
  requiredEnvCheck,
  runtimeCheck,
  skillsCheck,
  taskBudgetCheck,
} from "./config-checks.js";
export {
  environmentCheck,
  PLATFORM_TOKEN_FILE,
  platformTokenCheck,
  platformUrlCheck,
  workspaceIdCheck,
} from "./env-checks.js";
export type { PreflightErrorCode } from "./errors.js";
export { PreflightError } from "./errors.js";
export type { PreflightGate, PreflightGateOptions } from "./gate.js";
export { createPreflightGate } from "./gate.js";
export type { RenderOptions } from "./render.js";
export { renderReport } from "./render.js";
export type { ConfiguredCheckDefinition, UnconfiguredCheckDefinition } from "./run.js";
export { CONFIG_CHECK_NAME, DEFAULT_CHECK_TIMEOUT_MS, defineCheck, runPreflight } from "./run.js";
export { KNOWN_RUNTIMES } from "./runtimes.js";
export type {
  Check,
  CheckIssue,
  CheckOutcome,
  CheckResult,
  CheckStatus,
  ConfiguredContext,
  Env,
  Issue,
  PreflightContext,
  PreflightLogger,
  PreflightOptions,
  PreflightReport,
} from "./types.js";
export type { WorkspaceChecksOptions } from "./workspace.js";
export { workspaceChecks } from "./workspace.js";
