import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { errnoCode } from "@molecule/internal";
import * as z from "zod";
import { errorText } from "../errors.js";
import type { TurnUsage } from "../executor.js";
import type { Logger } from "../logger.js";
import { RPC, type RpcError } from "./rpc.js";
import { type TaskRecord, TERMINAL } from "./task-registry.js";

/** The status text (and error message) of a task that was running when the daemon stopped. */
export const INTERRUPTED_TEXT = "interrupted: the workspace restarted";

/** Its error: `metadata.outcome` is "interrupted" in both protocol versions. */
export const INTERRUPTED: RpcError = {
  code: RPC.TURN_FAILED,
  message: INTERRUPTED_TEXT,
  data: { outcome: "interrupted" },
};

const Text = z.object({ messageId: z.string(), text: z.string() });
const Usage = z.object({
  input_tokens: z.number(),
  output_tokens: z.number(),
  cache_read_input_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
  cost_usd: z.number().optional(),
  model: z.string().optional(),
});
/** One line of the records file: a whole task record as of one of its changes (`v`: the format). */
const Line = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  contextId: z.string(),
  user: Text,
  state: z.enum(["submitted", "working", "completed", "failed", "canceled"]),
  reply: Text.optional(),
  note: Text.optional(),
  error: z
    .object({ code: z.number().int(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() })
    .optional(),
  usage: Usage.optional(),
  timestamp: z.string(),
  createdAt: z.string(),
  owner: z.string().optional(),
  sequence: z.number().int().min(0),
});

/** A record as one line of the file (with its newline). */
export function recordLine(task: TaskRecord): string {
  return `${JSON.stringify({ v: 1, ...task })}\n`;
}

/** Keeps only the keys whose value is defined (zod's optional output vs exactOptionalPropertyTypes). */
function defined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

function parseLine(line: string): TaskRecord | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = Line.safeParse(json);
  if (!parsed.success) return undefined;
  const { v: _v, error, usage, ...rest } = parsed.data;
  return {
    ...defined(rest),
    ...(error ? { error: defined(error) as RpcError } : {}),
    ...(usage ? { usage: defined(usage) as TurnUsage } : {}),
  } as TaskRecord;
}

/** What the file held at boot. */
export interface LoadedRecords {
  /** The last record of each task, in the order the tasks first appear (oldest first). */
  records: TaskRecord[];
  /** Good lines read (several per task before a compaction). */
  lines: number;
  /** The file's size. */
  bytes: number;
  /** Tasks that were submitted or working: now failed, `interrupted: the workspace restarted`. */
  interrupted: number;
  /** Lines that could not be read: a torn last line (a write cut by a crash) and corrupt ones. */
  torn: number;
  corrupt: number;
  /** Where the file was moved aside (a corrupt line or an unreadable file), if it was. */
  setAside?: string;
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  if (size === 0) return true;
  const handle = await open(file, "r");
  try {
    const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
    return buffer[0] === 0x0a;
  } finally {
    await handle.close();
  }
}

/** Moves a bad file aside (`<file>.corrupt-<time>`) so nothing is deleted silently; undefined if that failed too. */
async function setAside(file: string, now: number, log: Logger): Promise<string | undefined> {
  const aside = `${file}.corrupt-${now}`;
  try {
    await rename(file, aside);
    return aside;
  } catch (error) {
    log.warn(
      { event: "tasks.set_aside_failed", code: errnoCode(error), err: errorText(error) },
      `could not move the task records file aside to ${aside}; it is replaced at the next write`,
    );
    return undefined;
  }
}

/** Removes the temp files of a compaction a crash cut short (`.<file>.<pid>.<random>.tmp`, see `writeFileAtomic`). */
async function removeLeftoverTemps(file: string): Promise<void> {
  const prefix = `.${basename(file)}.`;
  const names = await readdir(dirname(file)).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith(".tmp"))
      await unlink(join(dirname(file), name)).catch(() => undefined);
  }
}

/**
 * Reads the records file line by line (a line may be megabytes: an 8 MiB reply): later lines of a
 * task win, a bad line is skipped and counted, never a crash. A file with a corrupt line, or one
 * that cannot be read at all, is moved aside (`.corrupt-<time>`) with one warning; a torn last line
 * alone (a crash cut the last append) is only counted and warned about. Running tasks become
 * failed (`INTERRUPTED`): a restart is not a turn outcome, so nothing else counts them.
 */
export async function loadRecordsFile(file: string, log: Logger, now: () => number): Promise<LoadedRecords> {
  const empty: LoadedRecords = { records: [], lines: 0, bytes: 0, interrupted: 0, torn: 0, corrupt: 0 };
  const byId = new Map<string, TaskRecord>();
  let lines = 0;
  let bad: number[] = [];
  let total = 0;
  let endsClean = true;
  let bytes = 0;
  await removeLeftoverTemps(file);
  try {
    const info = await stat(file);
    if (!info.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: "EISDIR" });
    bytes = info.size;
    endsClean = await endsWithNewline(file, info.size);
    const reader = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
    for await (const line of reader) {
      total += 1;
      if (line.trim() === "") continue;
      const record = parseLine(line);
      if (!record) {
        bad.push(total);
        continue;
      }
      lines += 1;
      byId.set(record.id, record); // a later line replaces the value, the task keeps its first place
    }
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return empty;
    const aside = await setAside(file, now(), log);
    log.warn(
      {
        event: "tasks.file_unreadable",
        code: "W_TASKS_FILE_UNREADABLE",
        file,
        errno: errnoCode(error),
        err: errorText(error),
        ...(aside ? { setAside: aside } : {}),
      },
      `cannot read the task records file (${errnoCode(error) ?? "error"}); starting with no remembered tasks${aside ? ` — the file was moved to ${aside}` : ""}`,
    );
    return { ...empty, ...(aside ? { setAside: aside } : {}) };
  }
  const torn = !endsClean && bad.at(-1) === total ? 1 : 0;
  if (torn) bad = bad.slice(0, -1);
  const corrupt = bad.length;
  let aside: string | undefined;
  if (corrupt > 0) aside = await setAside(file, now(), log);
  if (torn + corrupt > 0) {
    log.warn(
      {
        event: "tasks.file_corrupt",
        code: "W_TASKS_FILE_CORRUPT",
        file,
        torn,
        corrupt,
        firstBadLine: bad[0] ?? total,
        kept: byId.size,
        ...(aside ? { setAside: aside } : {}),
      },
      `the task records file had ${corrupt} corrupt line(s)${torn ? " and a torn last line" : ""}; they were skipped, the ${byId.size} task(s) read are kept${aside ? ` — the original was moved to ${aside}` : ""}`,
    );
  }
  const at = new Date(now()).toISOString();
  let interrupted = 0;
  const records = [...byId.values()].map((task) => {
    if (TERMINAL.has(task.state)) return task;
    interrupted += 1;
    return {
      ...task,
      state: "failed" as const,
      note: { messageId: randomUUID(), text: INTERRUPTED_TEXT },
      error: INTERRUPTED,
      timestamp: at,
      sequence: task.sequence + 1,
    };
  });
  return {
    records,
    lines,
    bytes: aside ? 0 : bytes,
    interrupted,
    torn,
    corrupt,
    ...(aside ? { setAside: aside } : {}),
  };
}
