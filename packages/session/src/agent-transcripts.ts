import { findCodexTranscript } from "./codex-transcripts.js";
import { SessionError } from "./errors.js";
import { findGeminiTranscript } from "./gemini-transcripts.js";

/** Agents other than Claude Code whose transcripts this package can find. */
export type TranscriptAgent = "codex" | "gemini-cli";

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

export interface FindTranscriptOptions {
  agent: TranscriptAgent;
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
 * `E_SESSION_BAD_OPTIONS` for no home, an unknown agent or gemini-cli without a cwd.
 */
export async function findAgentTranscript(
  sessionId: unknown,
  options: FindTranscriptOptions,
): Promise<TranscriptLookup> {
  if (typeof options !== "object" || options === null || typeof options.home !== "string" || options.home === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: 'findAgentTranscript needs options: { agent: "codex" | "gemini-cli", home: <the agent\'s home dir> }',
    });
  }
  if (options.agent === "codex") return findCodexTranscript(sessionId, options.home);
  if (options.agent === "gemini-cli") {
    if (typeof options.cwd !== "string" || options.cwd === "") {
      throw new SessionError({
        code: "E_SESSION_BAD_OPTIONS",
        message: "findAgentTranscript for gemini-cli needs cwd: its chats are kept per working directory",
      });
    }
    return findGeminiTranscript(sessionId, options.home, options.cwd);
  }
  throw new SessionError({
    code: "E_SESSION_UNSUPPORTED_AGENT",
    message: `findAgentTranscript supports "codex" and "gemini-cli" (got ${JSON.stringify((options as { agent?: unknown }).agent)}); use resolveResume for claude-code`,
  });
}
