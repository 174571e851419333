export type { HeartbeatBody, HeartbeatBodyInput, RuntimeMetadata } from "./beat/body.js";
export { createHeartbeat } from "./beat/heartbeat.js";
export { defaultCapabilities } from "./beat/metadata.js";
export type {
  BeatResult,
  Heartbeat,
  HeartbeatOptions,
  HeartbeatStats,
  OutageRecoveredEvent,
  UnauthorizedStreakEvent,
  WorkspaceUnknownEvent,
} from "./beat/types.js";
export { readDelegationResults } from "./delegations/ledger.js";
export { createDelegationPoller } from "./delegations/poller.js";
export type {
  DelegationPoller,
  DelegationPollerOptions,
  DelegationPollerStats,
  DelegationResult,
  PollResult,
} from "./delegations/types.js";
export type { HeartbeatErrorCode } from "./errors.js";
export { HeartbeatError } from "./errors.js";
export { register } from "./register/register.js";
export type { RegisterAttempt, RegisterOptions, RegisterResult, RegisterTokens } from "./register/types.js";
export type { TaskDone, TaskSnapshot, TaskTracker, TaskTrackerOptions } from "./tracker/tracker.js";
export { createTaskTracker } from "./tracker/tracker.js";
export type { Clock, HeartbeatLogger, PlatformTokens, TurnOutcome } from "./types.js";
