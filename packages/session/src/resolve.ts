import { readdir, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { copyFileAtomic, errnoCode } from "@molecule/internal";
import { findAgentTranscript } from "./agent-transcripts.js";
import { encodeProjectDir } from "./encode.js";
import { SessionError } from "./errors.js";
import { isValidSessionId, printableId } from "./ids.js";
import type { SessionLogger } from "./logger.js";

/**
 * Agents whose transcripts this package knows how to find: Claude Code's per-cwd project dirs,
 * Codex's rollout files, Gemini CLI's per-project chat files.
 */
export type SessionAgent = "claude-code" | "codex" | "gemini-cli";
const CLAUDE_CODE = "claude-code" satisfies SessionAgent;
const AGENTS: readonly SessionAgent[] = [CLAUDE_CODE, "codex", "gemini-cli"];

/** Why `resolveResume` resumes (`found`, `relocated`) or drops (`none`, `missing`, `invalid-id`, `empty-file`) an id. */
export type ResumeReason = "none" | "found" | "relocated" | "missing" | "invalid-id" | "empty-file";

export interface ResolveResumeOptions {
  agent: SessionAgent;
  /** The directory the agent will run in; its project dir is where `--resume` looks. */
  cwd: string;
  /** The agent's config dir. Default: `$CLAUDE_CONFIG_DIR`, else `$HOME/.claude`. */
  claudeDir?: string | undefined;
  /**
   * Codex and Gemini CLI (required for them): the agent's home as it runs — `CODEX_HOME`, or
   * `GEMINI_CLI_HOME` (the dir holding `.gemini`). Claude Code ignores it.
   */
  home?: string | undefined;
  /** Environment to read `CLAUDE_CONFIG_DIR` and `HOME` from. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Copy a transcript found under another project dir into the cwd's. Default: `true`. */
  relocate?: boolean | undefined;
  /**
   * Extra claude dirs to look in when the transcript is not in the cwd's project dir (e.g. the dir of
   * the user an earlier container generation ran as). Default: none — only the daemon user's own
   * claude dir, so a shared machine never moves another user's transcripts.
   */
  searchDirs?: readonly string[] | undefined;
  logger?: SessionLogger | undefined;
}

export interface ResumeResolution {
  /** The id to pass to `--resume`, or `undefined` to start a fresh session. */
  resume: string | undefined;
  reason: ResumeReason;
  /** The transcript that will be resumed (`found`, `relocated`) or the empty one (`empty-file`). */
  path?: string;
}

/** @internal */
export const DEFAULT_SEARCH_DIRS: readonly string[] = [];

type Probe = { kind: "file"; size: number; mtimeMs: number } | { kind: "absent" };

async function probe(path: string, logger: SessionLogger | undefined): Promise<Probe> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return { kind: "absent" };
    return { kind: "file", size: info.size, mtimeMs: info.mtimeMs };
  } catch (error) {
    const code = errnoCode(error);
    if (code !== "ENOENT" && code !== "ENOTDIR") {
      logger?.warn(
        { event: "session.stat_failed", path, code },
        `cannot read ${path} (${code}); treating it as absent`,
      );
    }
    return { kind: "absent" };
  }
}

/** Resolves the claude dir from the options and env. @internal */
export function claudeDirOf(options: Pick<ResolveResumeOptions, "claudeDir" | "env">): string {
  if (options.claudeDir) return resolve(options.claudeDir);
  const env = options.env ?? process.env;
  if (env.CLAUDE_CONFIG_DIR) return resolve(env.CLAUDE_CONFIG_DIR);
  return join(env.HOME || homedir(), ".claude");
}

function drop(id: string, reason: ResumeReason, logger: SessionLogger | undefined, extra: object = {}): void {
  logger?.info(
    { event: "session.dropped", sessionId: printableId(id), reason, ...extra },
    `dropping session id ${printableId(id)}: ${reason}; the next turn starts a fresh session`,
  );
}

function validate(options: ResolveResumeOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: `resolveResume needs options: { agent: "${CLAUDE_CODE}", cwd }`,
    });
  }
  if (!AGENTS.includes(options.agent)) {
    throw new SessionError({
      code: "E_SESSION_UNSUPPORTED_AGENT",
      message: `resolveResume supports agents ${AGENTS.join(", ")} (got ${JSON.stringify(options.agent)}); for other agents start fresh sessions`,
    });
  }
  if (options.agent !== CLAUDE_CODE && (typeof options.home !== "string" || options.home === "")) {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: `resolveResume for ${options.agent} needs home: the agent's home dir as it runs (CODEX_HOME / GEMINI_CLI_HOME)`,
    });
  }
  if (typeof options.cwd !== "string" || options.cwd === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: "resolveResume needs cwd: the directory the agent will run in",
    });
  }
}

/** Codex and Gemini CLI: the transcript must exist where the agent keeps it (no relocation). */
async function resolveOther(sessionId: string, options: ResolveResumeOptions, home: string): Promise<ResumeResolution> {
  const found = await findAgentTranscript(sessionId, { agent: options.agent, home, cwd: options.cwd });
  if (found.exists) {
    options.logger?.debug?.({ event: "session.found", sessionId, path: found.path }, "session transcript found");
    return { resume: sessionId, reason: "found", ...(found.path ? { path: found.path } : {}) };
  }
  const reason: ResumeReason = found.reason === "found" ? "missing" : found.reason;
  drop(sessionId, reason, options.logger, found.path ? { path: found.path } : { home });
  return { resume: undefined, reason, ...(found.path ? { path: found.path } : {}) };
}

/**
 * Decides whether `sessionId` can be resumed in `cwd`, before the agent is asked to.
 * Never throws for a missing or stale transcript: that is a `reason`. Throws {@link SessionError}
 * only for bad options (no cwd, an unknown agent).
 */
export async function resolveResume(
  sessionId: string | undefined | null,
  options: ResolveResumeOptions,
): Promise<ResumeResolution> {
  validate(options);
  const logger = options.logger;
  if (sessionId === undefined || sessionId === null || sessionId === "") return { resume: undefined, reason: "none" };
  if (!isValidSessionId(sessionId)) {
    drop(String(sessionId), "invalid-id", logger);
    return { resume: undefined, reason: "invalid-id" };
  }
  if (options.agent !== CLAUDE_CODE) return resolveOther(sessionId, options, options.home ?? "");

  const claudeDir = claudeDirOf(options);
  const projectsDir = join(claudeDir, "projects");
  const projectDir = join(projectsDir, await encodeProjectDir(options.cwd));
  const fileName = `${sessionId}.jsonl`;
  const target = join(projectDir, fileName);

  const here = await probe(target, logger);
  if (here.kind === "file" && here.size > 0) {
    logger?.debug?.({ event: "session.found", sessionId, path: target }, "session transcript found");
    return { resume: sessionId, reason: "found", path: target };
  }

  // Not (usefully) here: look under every other project dir of this claude dir and the search dirs.
  const roots = [claudeDir, ...(options.searchDirs ?? DEFAULT_SEARCH_DIRS).map((dir) => resolve(dir))];
  let best: { path: string; mtimeMs: number; size: number } | undefined;
  let emptyElsewhere: string | undefined;
  for (const root of new Set(roots)) {
    const rootProjects = join(root, "projects");
    let entries: string[];
    try {
      entries = (await readdir(rootProjects, { withFileTypes: true }))
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name);
    } catch {
      continue; // no such claude dir here
    }
    // stat in parallel (the thread pool bounds it); ordering is decided below, not by arrival.
    const candidates = entries.map((name) => join(rootProjects, name, fileName)).filter((c) => c !== target);
    const probes = await Promise.all(candidates.map((candidate) => probe(candidate, logger)));
    for (const [i, found] of probes.entries()) {
      const candidate = candidates[i];
      if (found.kind !== "file" || candidate === undefined) continue;
      if (found.size === 0) {
        emptyElsewhere ??= candidate;
        continue;
      }
      // Several generations may have left a copy: take the newest (then the largest).
      if (!best || found.mtimeMs > best.mtimeMs || (found.mtimeMs === best.mtimeMs && found.size > best.size)) {
        best = { path: candidate, mtimeMs: found.mtimeMs, size: found.size };
      }
    }
  }

  if (best && options.relocate !== false) {
    try {
      await copyFileAtomic(best.path, target);
    } catch (error) {
      const code = errnoCode(error);
      logger?.warn(
        { event: "session.relocate_failed", sessionId, from: best.path, to: target, code },
        `could not copy the transcript of session ${sessionId} into ${projectDir} (${code ?? String(error)})`,
      );
      drop(sessionId, "missing", logger, { projectDir });
      return { resume: undefined, reason: "missing" };
    }
    logger?.info(
      { event: "session.relocated", sessionId, from: best.path, to: target },
      `session ${sessionId} was recorded under another directory; copied its transcript to ${projectDir}`,
    );
    return { resume: sessionId, reason: "relocated", path: target };
  }

  if (here.kind === "file") {
    drop(sessionId, "empty-file", logger, { path: target });
    return { resume: undefined, reason: "empty-file", path: target };
  }
  if (!best && emptyElsewhere !== undefined) {
    drop(sessionId, "empty-file", logger, { path: emptyElsewhere });
    return { resume: undefined, reason: "empty-file", path: emptyElsewhere };
  }
  drop(sessionId, "missing", logger, best ? { projectDir, elsewhere: best.path } : { projectDir });
  return { resume: undefined, reason: "missing" };
}
