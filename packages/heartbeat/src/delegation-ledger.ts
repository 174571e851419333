import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import { parseJson, SEEN_LIMIT } from "./delegation-state.js";
import type { DelegationResult } from "./delegation-types.js";
import { errorText, type HeartbeatLogger, silentLogger } from "./types.js";

const resultLine = z.object({
  delegation_id: z.string().min(1),
  status: z.enum(["completed", "failed"]),
  summary: z.string(),
  source_id: z.string(),
  target_id: z.string().optional(),
  row_id: z.string().optional(),
  created_at: z.string().optional(),
  error: z.string().optional(),
  response_preview: z.string().optional(),
  received_at: z.string(),
});

const seenFile = z.array(z.string());

/** @internal */
export interface DelegationLedger {
  /** The delivered ids (read once from the ids file, then kept in memory). */
  loadSeen(): Promise<Set<string>>;
  /** Adds ids (newest last, at most 1,000 kept) and rewrites the ids file atomically; a failure is logged. */
  markSeen(set: Set<string>, ids: string[]): Promise<void>;
  /** Appends results to the results file (one JSON line each) and fsyncs it. Throws on failure. */
  append(results: readonly DelegationResult[]): Promise<void>;
}

/**
 * What was delivered, on disk: the delivered-ids file (written atomically) and the JSON-lines
 * results file the agent reads with `readDelegationResults`. @internal
 */
export function createDelegationLedger(options: {
  seenPath: string;
  resultsFile: string;
  logger: HeartbeatLogger;
}): DelegationLedger {
  const { seenPath, resultsFile, logger } = options;
  let seen: Set<string> | undefined;

  const loadSeen = async (): Promise<Set<string>> => {
    if (seen) return seen;
    const set = new Set<string>();
    try {
      const parsed = seenFile.safeParse(parseJson(await readFile(seenPath, "utf8")));
      if (parsed.success) for (const id of parsed.data.slice(-SEEN_LIMIT)) set.add(id);
      else {
        logger.warn(
          { event: "delegation.state_corrupt", file: seenPath },
          "the delivered-ids file is not a JSON list of ids; starting empty (results may be delivered again)",
        );
      }
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") {
        logger.warn(
          { event: "delegation.state_unreadable", file: seenPath, err: errorText(error) },
          "cannot read the delivered-ids file",
        );
      }
    }
    seen = set;
    return set;
  };

  const markSeen = async (set: Set<string>, ids: string[]) => {
    for (const id of ids) {
      set.delete(id);
      set.add(id);
    }
    while (set.size > SEEN_LIMIT) {
      const oldest = set.values().next().value;
      if (oldest === undefined) break;
      set.delete(oldest);
    }
    try {
      // Creates stateDir (0700) when missing; old list or new, never a partial one, no temp file left behind.
      await writeFileAtomic(seenPath, JSON.stringify([...set]), {
        mode: 0o600,
        dirMode: 0o700,
        onDirSyncError: (error) =>
          logger.debug?.(
            { event: "delegation.state_dir_fsync_failed", file: seenPath, err: errorText(error) },
            "saved the delivered ids but could not fsync the state directory",
          ),
      });
    } catch (error) {
      logger.error(
        { event: "delegation.state_write_failed", file: seenPath, err: errorText(error) },
        "cannot persist the delivered ids; a restart may deliver these results again",
      );
    }
  };

  const append = async (results: readonly DelegationResult[]) => {
    await mkdir(dirname(resultsFile), { recursive: true, mode: 0o700 });
    const handle = await open(resultsFile, "a", 0o600);
    try {
      await handle.writeFile(results.map((r) => `${JSON.stringify(r)}\n`).join(""));
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  return { loadSeen, markSeen, append };
}

/**
 * Consumes the results file atomically (rename, then read, then delete) and returns its results,
 * oldest first, without duplicate ids. Corrupt lines are skipped with a warning. A missing file is [].
 */
export async function readDelegationResults(
  file: string,
  options: { logger?: HeartbeatLogger } = {},
): Promise<DelegationResult[]> {
  const logger = options.logger ?? silentLogger;
  const dir = dirname(file);
  const prefix = `${basename(file)}.consuming-`;
  // Leftovers of a reader that died between rename and delete come first (they are older).
  let leftovers: string[] = [];
  try {
    leftovers = (await readdir(dir)).filter((name) => name.startsWith(prefix)).sort();
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
  const taken = join(dir, `${prefix}${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`);
  const parts = leftovers.map((name) => join(dir, name));
  try {
    await rename(file, taken);
    parts.push(taken);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  const out: DelegationResult[] = [];
  const ids = new Set<string>();
  for (const part of parts) {
    const text = await readFile(part, "utf8");
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo += 1;
      if (line.trim() === "") continue;
      const parsed = resultLine.safeParse(parseJson(line));
      if (!parsed.success) {
        logger.warn(
          { event: "delegation.corrupt_line", file, line: lineNo },
          "skipped a corrupt line in the results file",
        );
        continue;
      }
      if (ids.has(parsed.data.delegation_id)) continue;
      ids.add(parsed.data.delegation_id);
      const { target_id, row_id, created_at, error, response_preview, ...required } = parsed.data;
      const result: DelegationResult = { ...required };
      if (target_id !== undefined) result.target_id = target_id;
      if (row_id !== undefined) result.row_id = row_id;
      if (created_at !== undefined) result.created_at = created_at;
      if (error !== undefined) result.error = error;
      if (response_preview !== undefined) result.response_preview = response_preview;
      out.push(result);
    }
    await unlink(part);
  }
  return out;
}
