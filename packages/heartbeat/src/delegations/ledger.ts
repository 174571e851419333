import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import { lazySchema } from "../lazy.js";
import { errorText, type HeartbeatLogger, parseJson, silentLogger } from "../types.js";
import { SEEN_LIMIT } from "./requests.js";
import { type DelegationResult, delegationResult } from "./types.js";

const resultLine = lazySchema((z) =>
  z.object({
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
  }),
);

const seenFile = lazySchema((z) => z.array(z.string()));

/** @internal */
export interface DelegationLedger {
  /** The delivered ids (read once from the ids file, then kept in memory). */
  loadSeen(): Promise<Set<string>>;
  /** Adds ids (newest last, at most 1,000 kept) and rewrites the ids file atomically; a failure is logged. */
  markSeen(set: Set<string>, ids: string[]): Promise<void>;
  /**
   * Appends results to the results file (one JSON line each) and fsyncs it. A torn tail (a line
   * without its newline, left by an earlier failed write) is cut off first; a failed write or fsync
   * cuts the file back to where this batch began and throws. So the file only ever holds whole
   * lines, and a resolved append means every line of the batch is durable.
   */
  append(results: readonly DelegationResult[]): Promise<void>;
}

/** The part of a `node:fs/promises` `FileHandle` the results file uses. @internal */
export interface LedgerFileHandle {
  stat(): Promise<{ size: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  writeFile(data: string, options: { encoding: "utf8" }): Promise<void>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The filesystem seam of the results file: tests answer ENOSPC through it without a full disk. @internal */
export interface LedgerFs {
  open(path: string, flags: string, mode: number): Promise<LedgerFileHandle>;
}

const nodeLedgerFs: LedgerFs = {
  open: (path, flags, mode) => open(path, flags, mode),
};

const TAIL_CHUNK = 64 * 1024;

/** The length of the file's whole lines: the offset just after its last newline (0 when it has none). */
async function wholeLinesLength(handle: LedgerFileHandle, size: number): Promise<number> {
  let end = size;
  const buffer = Buffer.alloc(TAIL_CHUNK);
  while (end > 0) {
    const start = Math.max(0, end - TAIL_CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, end - start, start);
    const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * What was delivered, on disk: the delivered-ids file (written atomically) and the JSON-lines
 * results file the agent reads with `readDelegationResults`. @internal
 */
export function createDelegationLedger(options: {
  seenPath: string;
  resultsFile: string;
  logger: HeartbeatLogger;
  /** The results file's filesystem (default `node:fs/promises`). */
  fs?: LedgerFs | undefined;
}): DelegationLedger {
  const { seenPath, resultsFile, logger } = options;
  const fs = options.fs ?? nodeLedgerFs;
  let seen: Set<string> | undefined;

  const loadSeen = async (): Promise<Set<string>> => {
    if (seen) return seen;
    const set = new Set<string>();
    try {
      const parsed = (await seenFile()).safeParse(parseJson(await readFile(seenPath, "utf8")));
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
    // "a+": appends always go to the end, and the tail can be read and cut.
    const handle = await fs.open(resultsFile, "a+", 0o600);
    try {
      const size = (await handle.stat()).size;
      const whole = await wholeLinesLength(handle, size);
      if (whole < size) {
        // An earlier write died mid-line (disk full, kill -9): never glue a new line onto it. Its
        // result was not marked delivered, so the poll that brought it brings it again.
        await handle.truncate(whole);
        logger.warn(
          { event: "delegation.torn_tail_dropped", file: resultsFile, bytes: size - whole },
          "dropped an incomplete last line from the results file (an earlier write failed midway)",
        );
      }
      try {
        await handle.writeFile(results.map((r) => `${JSON.stringify(r)}\n`).join(""), { encoding: "utf8" });
        await handle.sync();
      } catch (error) {
        // Part of the batch may be on disk: cut back to where it began (a truncate frees space, so it
        // works on a full disk). Should this fail too, the next append cuts the torn tail instead.
        await handle.truncate(whole).catch(() => undefined);
        await handle.sync().catch(() => undefined);
        throw error;
      }
    } finally {
      await handle.close().catch(() => undefined);
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
  const lineSchema = await resultLine();
  for (const part of parts) {
    const text = await readFile(part, "utf8");
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo += 1;
      if (line.trim() === "") continue;
      const parsed = lineSchema.safeParse(parseJson(line));
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
      out.push(delegationResult(required, { target_id, row_id, created_at, error, response_preview }));
    }
    await unlink(part);
  }
  return out;
}
