import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@molecule/internal";
import { errorText } from "../errors.js";
import type { Logger } from "../logger.js";
import type { StateDirHealth } from "../state-dir-health.js";
import { createTaskRegistry, type TaskRecord, type TaskRegistry } from "./task-registry.js";
import { type LoadedRecords, loadRecordsFile, recordLine } from "./task-store-file.js";

/** The records file in the state dir. */
export const TASKS_FILE = "tasks.jsonl";

/** What `a2a.persist_tasks` writes to the state volume's health (`state volume failing: task records (ENOSPC)`). */
const WHAT = "task records";

/**
 * The task records: every task's record (ids, context, state, the user message, the reply or the
 * safe error, note, timestamps, usage, owner, sequence) kept in `<state dir>/tasks.jsonl`, so a
 * restart still answers `tasks/get` and a repeated send, and marks the tasks it cut off
 * `interrupted`.
 *
 * An append-only JSONL log, compacted atomically — not the one durable write of the whole set:
 * a change appends one line (the task's whole record) instead of rewriting up to `RECENT_TASKS`
 * replies (each up to 8 MiB) on every change. Group commit, off the reply path: `record` only
 * queues (a task changed twice before the flush is written once, as it is then); one flush a short
 * timer later writes every queued line at once and fdatasyncs once. A reply never waits for its own
 * record. Bounded: when the log has grown past twice the live set (the registry's tasks) plus a
 * slack, in lines or bytes, a flush rewrites only the live set (temp file, fsync, rename, directory
 * fsync: `writeFileAtomic`). A failed append is cut back to the last good length, and the next flush
 * rewrites the whole file, so a full volume never leaves a torn line in the middle.
 *
 * A failing volume (ENOSPC, EROFS, EACCES, EIO) never throws into a turn: the daemon serves from
 * memory, the state volume's health warns (`state.write_failed`, readiness warning, `sample_error`)
 * and retries; the next change retries too. @internal
 */
export interface TaskStore {
  /** Reads the file (boot): see `loadRecordsFile`. */
  load(): Promise<LoadedRecords>;
  /** Queues the task's record (its state now is what the flush writes). Never throws, never waits. */
  record(task: TaskRecord): void;
  /** Writes what is queued (or compacts) now; resolves when done or failed (a failure is reported, not thrown). */
  flush(): Promise<void>;
  /** Flushes and closes the file (shutdown: nothing queued is lost on a clean stop). */
  close(): Promise<void>;
  stats(): TaskStoreStats;
}

export interface TaskStoreStats {
  /** Lines in the file now (one per change since the last compaction). */
  lines: number;
  /** Its size in bytes. */
  bytes: number;
  /** Bytes written since it was opened (appends and compactions). */
  bytesWritten: number;
  flushes: number;
  compactions: number;
}

export interface TaskStoreOptions {
  file: string;
  log: Logger;
  /** Where a failed write is reported (with its retry) and its recovery. */
  health?: Pick<StateDirHealth, "failed" | "succeeded">;
  /** The tasks the registry still holds: what a compaction keeps. */
  live: () => readonly TaskRecord[];
  /** How long a change waits for others to share its flush (default 10 ms). */
  delayMs?: number;
  /** Lines beyond twice the live set before a compaction (default 100). */
  slackLines?: number;
  /** Bytes beyond twice the size of the last compaction before the next (default 1 MiB). */
  slackBytes?: number;
  now?: () => number;
}

export function createTaskStore(options: TaskStoreOptions): TaskStore {
  const { file, log, health } = options;
  const delayMs = options.delayMs ?? 10;
  const slackLines = options.slackLines ?? 100;
  const slackBytes = options.slackBytes ?? 1024 * 1024;
  const now = options.now ?? Date.now;
  const pending = new Map<string, TaskRecord>();
  let handle: FileHandle | undefined;
  let lines = 0;
  let size = 0;
  let compactedSize = 0;
  let needsCompaction = false;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  const stats = { bytesWritten: 0, flushes: 0, compactions: 0 };

  async function closeHandle() {
    const h = handle;
    handle = undefined;
    await h?.close().catch(() => undefined);
  }

  async function append(batch: TaskRecord[]) {
    const data = Buffer.from(batch.map(recordLine).join(""), "utf8");
    if (!handle) {
      handle = await open(file, "a", 0o600);
      size = (await handle.stat()).size;
    }
    try {
      for (let offset = 0; offset < data.length; ) {
        const { bytesWritten } = await handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
      await handle.datasync();
    } catch (error) {
      // Cut a partial line off (a full volume takes part of a write); the next flush rewrites the file anyway.
      await handle.truncate(size).catch(() => undefined);
      await closeHandle();
      throw error;
    }
    size += data.length;
    lines += batch.length;
    stats.bytesWritten += data.length;
  }

  async function compact() {
    const live = options.live();
    let written = 0;
    await writeFileAtomic(
      file,
      async function* () {
        // A write per 64 KiB or so, not per line (a reply may still make one line megabytes).
        let lines: string[] = [];
        let chars = 0;
        for (const [i, task] of live.entries()) {
          const line = recordLine(task);
          lines.push(line);
          chars += line.length;
          if (chars < 64 * 1024 && i < live.length - 1) continue;
          const chunk = Buffer.from(lines.join(""), "utf8");
          written += chunk.length;
          lines = [];
          chars = 0;
          yield chunk;
        }
      },
      { mode: 0o600, dirMode: 0o700 },
    );
    await closeHandle(); // the old handle points at the replaced file
    lines = live.length;
    size = written;
    compactedSize = written;
    needsCompaction = false;
    stats.bytesWritten += written;
    stats.compactions += 1;
  }

  /** One flush; throws when the write failed (the batch stays queued, the next flush compacts). */
  async function write() {
    const batch = [...pending.values()];
    pending.clear();
    if (batch.length === 0 && !needsCompaction) return;
    stats.flushes += 1;
    try {
      const liveCount = options.live().length;
      const grown = lines + batch.length > 2 * liveCount + slackLines || size > 2 * compactedSize + slackBytes;
      if (needsCompaction || grown) await compact();
      else await append(batch);
    } catch (error) {
      needsCompaction = true;
      for (const task of batch) if (!pending.has(task.id)) pending.set(task.id, task);
      throw error;
    }
    if (failing) {
      failing = false;
      health?.succeeded(WHAT);
    }
  }

  function report(error: unknown) {
    failing = true;
    if (health) health.failed(WHAT, error, () => run(write));
    else log.error({ event: "tasks.write_failed", err: errorText(error) }, "cannot write the task records");
  }

  /** Runs `step` after the flush in progress (one at a time). */
  function run(step: () => Promise<void>): Promise<void> {
    const next = chain.then(step);
    chain = next.catch(() => undefined);
    return next;
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    return run(write).catch(report);
  }

  return {
    load: async () => {
      const loaded = await loadRecordsFile(file, log, now);
      // Rewritten once the registry holds them: the interrupted ones changed, bad lines are dropped.
      needsCompaction = loaded.setAside !== undefined || loaded.interrupted + loaded.torn + loaded.corrupt > 0;
      needsCompaction ||= loaded.lines > loaded.records.length;
      lines = loaded.lines;
      size = loaded.bytes;
      compactedSize = loaded.bytes;
      return loaded;
    },
    record(task) {
      pending.set(task.id, task);
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        void flush();
      }, delayMs);
      timer.unref();
    },
    flush,
    async close() {
      await flush();
      await run(closeHandle);
    },
    stats: () => ({ lines, bytes: size, ...stats }),
  };
}

/** The registry and its records file, as boot opens them. @internal */
export interface TaskRecords {
  registry: TaskRegistry;
  store: TaskStore;
  /** What the file held at boot. */
  loaded: LoadedRecords;
}

/**
 * Boot: reads `<state dir>/tasks.jsonl`, restores its tasks into a new registry (running ones marked
 * interrupted, bounded by the registry's rules), rewrites the file if it held more than that, and
 * wires every later change of a task to the store. Never throws for the file's sake. @internal
 */
export async function openTaskRecords(options: {
  stateDir: string;
  log: Logger;
  health?: Pick<StateDirHealth, "failed" | "succeeded">;
  max?: number;
  now?: () => number;
  delayMs?: number;
}): Promise<TaskRecords> {
  const t0 = Date.now();
  let registry: TaskRegistry | undefined;
  const store = createTaskStore({
    file: join(options.stateDir, TASKS_FILE),
    log: options.log,
    live: () => registry?.list() ?? [],
    ...(options.health ? { health: options.health } : {}),
    ...(options.delayMs !== undefined ? { delayMs: options.delayMs } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const loaded = await store.load();
  registry = createTaskRegistry({
    ...(options.max !== undefined ? { max: options.max } : {}),
    ...(options.now ? { now: options.now } : {}),
    onChange: (task) => store.record(task),
  });
  registry.restore(loaded.records);
  await store.flush(); // a compaction, when the file held more than the registry kept
  if (loaded.records.length > 0 || loaded.setAside) {
    options.log.info(
      {
        event: "tasks.loaded",
        tasks: registry.list().length,
        interrupted: loaded.interrupted,
        ms: Date.now() - t0,
      },
      `remembered ${registry.list().length} task(s) from the last run${loaded.interrupted ? `; ${loaded.interrupted} that were running are marked failed (interrupted)` : ""}`,
    );
  }
  return { registry, store, loaded };
}
