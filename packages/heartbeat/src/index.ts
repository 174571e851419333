export type { HeartbeatBody, HeartbeatBodyInput, RuntimeMetadata } from "./body.js";
export { readDelegationResults } from "./delegation-ledger.js";
export type {
  DelegationPoller,
  DelegationPollerOptions,
  DelegationPollerStats,
  DelegationResult,
  PollResult,
} from "./delegation-types.js";
export { createDelegationPoller } from "./delegations.js";
export type { HeartbeatErrorCode } from "./errors.js";
export { HeartbeatError } from "./errors.js";
export { createHeartbeat } from "./heartbeat.js";
export type {
  BeatResult,
  Heartbeat,
  HeartbeatOptions,
  HeartbeatStats,
  OutageRecoveredEvent,
  UnauthorizedStreakEvent,
} from "./heartbeat-types.js";
export { defaultCapabilities } from "./metadata.js";
export { register } from "./register.js";
export type { RegisterAttempt, RegisterOptions, RegisterResult, RegisterTokens } from "./register-types.js";
export type { TaskDone, TaskSnapshot, TaskTracker, TaskTrackerOptions } from "./tasks.js";
export { createTaskTracker } from "./tasks.js";
export type { Clock, HeartbeatLogger, PlatformTokens, TurnOutcome } from "./types.js";
