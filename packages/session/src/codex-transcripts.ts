import { join } from "node:path";
import type { TranscriptFinder, TranscriptLookup } from "./agent-transcripts.js";
import { fileSize, isUuid, namesIn } from "./transcript-common.js";

// Codex CLI 0.169.0 (measured; docs/AGENTS.md): one rollout file per thread,
// `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<YYYY-MM-DDTHH-MM-SS>-<thread_id>.jsonl`, dated by the
// thread's start (local time); resumed turns are appended to it. `codex exec resume <id>` fails
// with "no rollout found" once it is gone, and a non-UUID id silently starts a new thread.

const DAY_MS = 86_400_000;
const pad = (n: number) => String(n).padStart(2, "0");

/** The day dirs a UUIDv7 thread id's timestamp points at (±1 day for the CLI's local time zone). */
function daysOf(threadId: string): string[] {
  if (threadId[14] !== "7") return [];
  const ms = Number.parseInt(threadId.slice(0, 8) + threadId.slice(9, 13), 16);
  if (!Number.isFinite(ms)) return [];
  return [ms, ms - DAY_MS, ms + DAY_MS].map((t) => {
    const d = new Date(t);
    return join(String(d.getUTCFullYear()), pad(d.getUTCMonth() + 1), pad(d.getUTCDate()));
  });
}

async function allDays(sessionsDir: string): Promise<string[]> {
  const days: string[] = [];
  for (const year of (await namesIn(sessionsDir)).sort().reverse()) {
    for (const month of (await namesIn(join(sessionsDir, year))).sort().reverse()) {
      for (const day of (await namesIn(join(sessionsDir, year, month))).sort().reverse()) {
        days.push(join(year, month, day));
      }
    }
  }
  return days;
}

/**
 * Whether Codex can resume thread `threadId` from `codexHome`: its rollout file exists under
 * `sessions/YYYY/MM/DD/` and is not empty. Looks in the days a UUIDv7 id names first, then
 * everywhere. Never throws.
 */
export async function findCodexTranscript(threadId: unknown, codexHome: string): Promise<TranscriptLookup> {
  if (!isUuid(threadId)) return { exists: false, reason: "invalid-id" };
  const sessionsDir = join(codexHome, "sessions");
  const suffix = `-${threadId.toLowerCase()}.jsonl`;
  const seen = new Set<string>();
  const first = daysOf(threadId);
  for (const days of [first, null]) {
    for (const day of days ?? (await allDays(sessionsDir))) {
      if (seen.has(day)) continue;
      seen.add(day);
      const dir = join(sessionsDir, day);
      for (const name of await namesIn(dir)) {
        if (!name.startsWith("rollout-") || !name.toLowerCase().endsWith(suffix)) continue;
        const path = join(dir, name);
        const size = await fileSize(path);
        if (size === undefined) continue;
        return size > 0 ? { exists: true, reason: "found", path } : { exists: false, reason: "empty-file", path };
      }
    }
  }
  return { exists: false, reason: "missing" };
}

/** @internal */
export const CODEX_TRANSCRIPTS: TranscriptFinder = Object.freeze({
  agent: "codex",
  needsCwd: false,
  find: (sessionId: unknown, home: string) => findCodexTranscript(sessionId, home),
});
