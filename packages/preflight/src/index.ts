export type { Clock } from "./clock.js";
export type { PreflightErrorCode } from "./errors.js";
export { PreflightError } from "./errors.js";
export type { PreflightGate, PreflightGateOptions } from "./gate.js";
export { createPreflightGate } from "./gate.js";
export type { PeerRangeOptions } from "./peer-range.js";
export { peerRangeIssues } from "./peer-range.js";
export type { RenderOptions } from "./render.js";
export { renderReport } from "./render.js";
export type { CheckDefinitionBase, ConfiguredCheckDefinition, UnconfiguredCheckDefinition } from "./run.js";
export { defineCheck, runPreflight } from "./run.js";
export { NON_AGENT_RUNTIMES } from "./runtimes.js";
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
