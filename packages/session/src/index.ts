export {
  type FindTranscriptOptions,
  findAgentTranscript,
  type TranscriptLookup,
} from "./agent-transcripts.js";
export {
  type ContextSessionStore,
  type ContextSessionStoreOptions,
  createContextSessionStore,
} from "./context-store.js";
export { encodeProjectDir } from "./encode.js";
export { SessionError, type SessionErrorCode } from "./errors.js";
export { isMissingSessionError, sessionIdFromError } from "./ids.js";
export type { SessionLogger } from "./logger.js";
export { planResume, type RecordTurnOptions, type ResumePlan, recordTurn, type TurnResult } from "./plan.js";
export {
  type ResolveResumeOptions,
  type ResumeReason,
  type ResumeResolution,
  resolveResume,
  type SessionAgent,
} from "./resolve.js";
export { createSessionStore, type SessionStore, type SessionStoreOptions } from "./store.js";
