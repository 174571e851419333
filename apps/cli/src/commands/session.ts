import { resolve } from "node:path";
import type { Io } from "../io.js";

export interface SessionCheckOptions {
  cwd?: string;
  json?: boolean;
  /** false with --no-relocate: report only, never copy a transcript found elsewhere */
  relocate?: boolean;
}

/**
 * `molecule session check <id> [--cwd DIR]`: whether `--resume <id>` would work in DIR (resolveResume),
 * and the transcript path. Exit 0 when the session can be resumed, 1 when the next turn starts fresh.
 * Like the daemon, a transcript found under another project dir is copied into DIR's (not with --no-relocate).
 */
export async function sessionCheckCommand(id: string, options: SessionCheckOptions, io: Io): Promise<number> {
  const [{ resolveResume }, { DEFAULT_AGENT }] = await Promise.all([
    import("@molecule/session"),
    import("@molecule/auth"),
  ]);
  const cwd = resolve(options.cwd ?? process.cwd());
  const resolution = await resolveResume(id, {
    agent: DEFAULT_AGENT, // the agent whose transcripts resolveResume finds (a type error if they part)
    cwd,
    env: io.env,
    relocate: options.relocate !== false,
  });
  const resumable = resolution.resume !== undefined;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ id, cwd, resumable, ...resolution }, null, 2)}\n`);
    return resumable ? 0 : 1;
  }
  const meaning: Record<string, string> = {
    found: "the transcript is in this directory's project dir; the next turn resumes it",
    relocated: "the transcript was under another project dir; it was copied here and the next turn resumes it",
    missing: "no transcript for this id; the next turn starts a fresh session",
    "invalid-id": "not a session id; the next turn starts a fresh session",
    "empty-file": "the transcript is empty; the next turn starts a fresh session",
    none: "no id given; the next turn starts a fresh session",
  };
  io.stdout.write(`Session ${id} in ${cwd}: ${resolution.reason} — ${meaning[resolution.reason] ?? ""}\n`);
  if (resolution.path) io.stdout.write(`Transcript: ${resolution.path}\n`);
  return resumable ? 0 : 1;
}
