export type { HeartbeatBody, HeartbeatBodyInput, RuntimeMetadata } from "./body.js";
export type {
  DelegationPoller,
  DelegationPollerOptions,
  DelegationPollerStats,
  DelegationResult,
  PollResult,
} from "./delegations.js";
export { createDelegationPoller, readDelegationResults } from "./delegations.js";
export type { HeartbeatErrorCode } from "./errors.js";
export { HeartbeatError } from "./errors.js";
export type {
  BeatResult,
  Heartbeat,
  HeartbeatOptions,
  HeartbeatStats,
  OutageRecoveredEvent,
  UnauthorizedStreakEvent,
} from "./heartbeat.js";
export { createHeartbeat } from "./heartbeat.js";
export { defaultCapabilities } from "./metadata.js";
export type { RegisterAttempt, RegisterOptions, RegisterResult, RegisterTokens } from "./register.js";
export { register } from "./register.js";
export type { TaskDone, TaskSnapshot, TaskTracker, TaskTrackerOptions } from "./tasks.js";
export { createTaskTracker } from "./tasks.js";
export type { Clock, HeartbeatLogger, PlatformTokens, TurnOutcome } from "./types.js";
