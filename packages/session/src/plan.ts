import { errorText } from "@molecule/internal";
import { SessionError } from "./errors.js";
import { type ResolveResumeOptions, type ResumeReason, resolveResume } from "./resolve.js";
import type { SessionStore } from "./store.js";

export interface ResumePlan {
  /** The id to pass to `--resume`, or `undefined` to start a fresh session. */
  resume: string | undefined;
  reason: ResumeReason;
}

/** How the turn ended, as far as the session is concerned. */
export type TurnResult = "ok" | "session-missing" | "failed";

export interface RecordTurnOptions {
  /** The session id the agent reported for this turn (e.g. `session_id` of its result). Absent or `""`: the store is left as it is. */
  sessionId?: string | undefined;
  result: TurnResult;
}

const DROPPED: ReadonlySet<ResumeReason> = new Set(["missing", "invalid-id", "empty-file"]);

/**
 * The one call an executor makes before a turn: reads the remembered id, checks it can be resumed
 * (relocating the transcript when needed), forgets it when it cannot, and says what to do.
 */
export async function planResume(store: SessionStore, options: ResolveResumeOptions): Promise<ResumePlan> {
  const remembered = await store.get();
  const { resume, reason } = await resolveResume(remembered, options);
  if (DROPPED.has(reason)) {
    try {
      await store.clear();
    } catch (error) {
      // The plan stands (start fresh); the next planResume drops the id again. Never fail the turn for it.
      options.logger?.warn(
        { event: "session.store_clear_failed", reason, error: errorText(error) },
        "could not forget the dropped session id; starting a fresh session anyway",
      );
    }
  }
  return { resume, reason };
}

/**
 * The call after a turn: `ok` remembers the turn's session id (when given), `session-missing`
 * forgets the remembered one, `failed` leaves it for the next turn.
 */
export async function recordTurn(store: SessionStore, options: RecordTurnOptions): Promise<void> {
  switch (options?.result) {
    case "ok":
      if (options.sessionId === undefined || options.sessionId === "") return;
      if ((await store.get()) === options.sessionId) return; // unchanged: no write per turn
      await store.set(options.sessionId);
      return;
    case "session-missing":
      await store.clear();
      return;
    case "failed":
      return;
    default:
      throw new SessionError({
        code: "E_SESSION_BAD_OPTIONS",
        message: `recordTurn needs result "ok", "session-missing" or "failed" (got ${JSON.stringify(options?.result)})`,
      });
  }
}
