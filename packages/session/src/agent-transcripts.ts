import { CODEX_TRANSCRIPTS } from "./codex-transcripts.js";
import { SessionError } from "./errors.js";
import { GEMINI_TRANSCRIPTS } from "./gemini-transcripts.js";

/** Whether a session can be resumed, and why not. */
export interface TranscriptLookup {
  /** True when the agent will find the transcript and resume it. */
  exists: boolean;
  /**
   * `found`; `missing` (no transcript: resuming would fail or start over); `invalid-id` (not a
   * canonical UUID — `latest`, `--last` and names are refused, as both CLIs would silently start
   * a new conversation); `empty-file` (a transcript the agent cannot resume from).
   */
  reason: "found" | "missing" | "invalid-id" | "empty-file";
  /** The transcript file, when one was found. */
  path?: string;
}

/** One agent's transcript lookup. @internal */
export interface TranscriptFinder {
  readonly agent: string;
  /** True when the agent keeps transcripts per working directory. */
  readonly needsCwd: boolean;
  find(sessionId: unknown, home: string, cwd: string): Promise<TranscriptLookup>;
}

const FINDERS: readonly TranscriptFinder[] = [CODEX_TRANSCRIPTS, GEMINI_TRANSCRIPTS];

export interface FindTranscriptOptions {
  /** The registry id of the agent: codex or gemini-cli (Claude Code has `resolveResume`). */
  agent: string;
  /** The agent's home as it runs: `CODEX_HOME` for codex, `GEMINI_CLI_HOME` (the dir holding `.gemini`) for gemini-cli. */
  home: string;
  /** The directory the agent runs in. Required for gemini-cli (its chats are per cwd); codex ignores it. */
  cwd?: string | undefined;
}

/**
 * Where Codex and Gemini CLI keep a session's transcript, checked before resuming it:
 * Codex's `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<thread_id>.jsonl`, Gemini CLI's
 * `$GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/session-*-<id8>.jsonl` (holding a model reply).
 * Never throws for a missing transcript (that is a `reason`); throws {@link SessionError}
 * `E_SESSION_BAD_OPTIONS` for no home or a per-cwd agent without a cwd, and
 * `E_SESSION_UNSUPPORTED_AGENT` for any other agent.
 */
export async function findAgentTranscript(
  sessionId: unknown,
  options: FindTranscriptOptions,
): Promise<TranscriptLookup> {
  if (typeof options !== "object" || options === null || typeof options.home !== "string" || options.home === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: "findAgentTranscript needs options: { agent, home: <the agent's home dir> }",
    });
  }
  const finder = FINDERS.find((f) => f.agent === options.agent);
  if (finder === undefined) {
    throw new SessionError({
      code: "E_SESSION_UNSUPPORTED_AGENT",
      message: `findAgentTranscript supports ${FINDERS.map((f) => f.agent).join(", ")} (got ${JSON.stringify(options.agent)}); use resolveResume for Claude Code`,
    });
  }
  const cwd = options.cwd ?? "";
  if (finder.needsCwd && (typeof cwd !== "string" || cwd === "")) {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: `findAgentTranscript for ${finder.agent} needs cwd: its transcripts are kept per working directory`,
    });
  }
  return finder.find(sessionId, options.home, cwd);
}
