import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { TranscriptFinder, TranscriptLookup } from "./agent-transcripts.js";
import { fileSize, isUuid, namesIn } from "./transcript-common.js";

// Gemini CLI 0.61.0 (measured; docs/AGENTS.md): chats live per project, the project being the cwd,
// `<GEMINI_CLI_HOME>/.gemini/tmp/<slug>/chats/session-<YYYY-MM-DDTHH-MM>-<first 8 of id>.jsonl`; the
// slug is recorded in `.gemini/projects.json` (`{"projects":{"<abs cwd>":"<slug>"}}`) and in
// `tmp/<slug>/.project_root`. Line 1 holds `sessionId`; a file without a model reply (a failed
// first turn) cannot be resumed (exit 42).

const MAX_TRANSCRIPT_BYTES = 256 * 1024 * 1024;

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** The project slugs Gemini CLI may use for `cwd`: projects.json's, then any `.project_root` owner. */
async function slugsFor(geminiDir: string, cwd: string): Promise<string[]> {
  const paths = new Set([resolve(cwd)]);
  const real = await realpath(cwd).catch(() => undefined);
  if (real) paths.add(real);
  const slugs: string[] = [];
  const registry = await readJson(join(geminiDir, "projects.json"));
  const projects =
    typeof registry === "object" && registry !== null ? (registry as { projects?: unknown }).projects : undefined;
  if (typeof projects === "object" && projects !== null) {
    for (const path of paths) {
      const slug = (projects as Record<string, unknown>)[path];
      if (typeof slug === "string" && slug !== "" && !slug.includes("/") && slug !== "..") slugs.push(slug);
    }
  }
  const tmp = join(geminiDir, "tmp");
  for (const slug of await namesIn(tmp)) {
    if (slugs.includes(slug)) continue;
    const owner = await readFile(join(tmp, slug, ".project_root"), "utf8").catch(() => undefined);
    if (owner !== undefined && paths.has(owner.trim())) slugs.push(slug);
  }
  return slugs;
}

function hasModelReply(text: string, sessionId: string): "other" | "reply" | "no-reply" {
  const lines = text.split("\n");
  let head: unknown;
  try {
    head = JSON.parse(lines[0] ?? "");
  } catch {
    return "other";
  }
  if (typeof head !== "object" || head === null) return "other";
  if (String((head as { sessionId?: unknown }).sessionId).toLowerCase() !== sessionId.toLowerCase()) return "other";
  for (const line of lines) {
    if (!line.includes('"gemini"')) continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (typeof entry === "object" && entry !== null && (entry as { type?: unknown }).type === "gemini")
        return "reply";
    } catch {
      // a torn last line
    }
  }
  return "no-reply";
}

/**
 * Whether Gemini CLI can resume session `sessionId` in `cwd` with `geminiCliHome` (the dir holding
 * `.gemini`): the project's chat file for that id exists and holds a model reply. Never throws.
 */
export async function findGeminiTranscript(
  sessionId: unknown,
  geminiCliHome: string,
  cwd: string,
): Promise<TranscriptLookup> {
  if (!isUuid(sessionId)) return { exists: false, reason: "invalid-id" };
  const geminiDir = join(geminiCliHome, ".gemini");
  const suffix = `-${sessionId.slice(0, 8).toLowerCase()}.jsonl`;
  let empty: string | undefined;
  for (const slug of await slugsFor(geminiDir, cwd)) {
    const chats = join(geminiDir, "tmp", slug, "chats");
    for (const name of await namesIn(chats)) {
      if (!name.startsWith("session-") || !name.toLowerCase().endsWith(suffix)) continue;
      const path = join(chats, name);
      const size = await fileSize(path);
      if (size === undefined || size > MAX_TRANSCRIPT_BYTES) continue;
      const text = await readFile(path, "utf8").catch(() => "");
      const verdict = hasModelReply(text, sessionId);
      if (verdict === "reply") return { exists: true, reason: "found", path };
      if (verdict === "no-reply") empty ??= path;
    }
  }
  return empty === undefined
    ? { exists: false, reason: "missing" }
    : { exists: false, reason: "empty-file", path: empty };
}

/** @internal */
export const GEMINI_TRANSCRIPTS: TranscriptFinder = Object.freeze({
  agent: "gemini-cli",
  needsCwd: true,
  find: (sessionId: unknown, home: string, cwd: string) => findGeminiTranscript(sessionId, home, cwd),
});
