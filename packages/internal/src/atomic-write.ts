import { randomBytes } from "node:crypto";
import * as fsSync from "node:fs";
import * as fsp from "node:fs/promises";
import path from "node:path";
import { errnoCode } from "./errno.js";

/**
 * A file written by this module is the old one or the new one, never partial: the content goes to a
 * temp file beside the target (`.<file>.<pid>.<random>.tmp`, opened `wx`), which is chmod'ed to the
 * requested mode, written, fsync'ed, closed and renamed over the target; then the directory is
 * fsync'ed so the rename survives a power loss. On any failure the temp file is removed.
 */

/** The steps of a write, in order. An {@link AtomicWriteError} names the one that failed. */
export type AtomicWriteStep = "mkdir" | "open" | "chmod" | "write" | "fsync" | "close" | "rename";

/** What the async variant writes: text (utf8), bytes, or chunks (e.g. a read stream) made at the write step. */
export type AtomicData = string | Uint8Array | (() => AsyncIterable<Uint8Array>);

/** The part of a `node:fs/promises` `FileHandle` a write uses. */
export interface AtomicFileHandle {
  chmod(mode: number): Promise<void>;
  writeFile(data: string | Uint8Array | AsyncIterable<Uint8Array>, options: { encoding: "utf8" }): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The filesystem seam of the async variant (tests fail single calls through it). */
export interface AtomicWriteFs {
  open(path: string, flags: string, mode?: number): Promise<AtomicFileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
}

export const nodeAtomicFs: AtomicWriteFs = {
  async open(file, flags, mode) {
    const handle = await fsp.open(file, flags, mode);
    return {
      chmod: (m) => handle.chmod(m),
      // fsPromises.writeFile(handle, …) is filehandle.writeFile(…), typed to take chunks too.
      writeFile: (data, options) => fsp.writeFile(handle, data, options),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (file) => fsp.unlink(file),
  mkdir: (dir, options) => fsp.mkdir(dir, options),
};

export interface AtomicWriteOptions {
  /** The file's mode, set with chmod before the first byte is written (the umask cannot change it). Default 0o600. */
  mode?: number;
  /** Create the target's directory (recursively) with this mode when missing; `false`: it must exist. Default 0o700. */
  dirMode?: number | false;
  /**
   * Called when the directory fsync after the rename fails (some filesystems refuse it): the new file
   * is in place, but a power loss right then could undo the rename. Default: ignored.
   */
  onDirSyncError?: (error: unknown) => void;
}

export interface AtomicWriteAsyncOptions extends AtomicWriteOptions {
  /** Replaces single filesystem calls; the rest stay `node:fs/promises`. */
  fs?: Partial<AtomicWriteFs> | undefined;
}

/** A write that failed; the target is unchanged and the temp file is gone (unless the process died). */
export class AtomicWriteError extends Error {
  /** The errno code of the failure (`"EACCES"`, `"ENOSPC"`…), when there is one. */
  readonly code: string | undefined;
  readonly step: AtomicWriteStep;
  readonly file: string;

  constructor(options: { file: string; step: AtomicWriteStep; cause: unknown }) {
    const code = errnoCode(options.cause);
    super(
      `could not write ${options.file} (${options.step}: ${code ?? "error"}); the previous file, if any, is unchanged`,
      {
        cause: options.cause,
      },
    );
    this.name = "AtomicWriteError";
    this.code = code;
    this.step = options.step;
    this.file = options.file;
  }
}

/** The temp file a write of `target` uses: `.<file>.<pid>.<12 hex>.tmp` in the same directory (one leading dot). */
export function atomicTempPath(target: string): string {
  // A dot file keeps its one leading dot: `.auth_token` → `.auth_token.<pid>.<hex>.tmp`, the name
  // the token store has always used (boot recovery of a stranded token looks for exactly that).
  const base = path.basename(target);
  const name = `${base.startsWith(".") ? base : `.${base}`}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  return path.join(path.dirname(target), name);
}

/** Replaces `target` with `data` atomically and durably (see the top of this module). Rejects with {@link AtomicWriteError}. */
export async function writeFileAtomic(
  target: string,
  data: AtomicData,
  options: AtomicWriteAsyncOptions = {},
): Promise<void> {
  const fs: AtomicWriteFs = { ...nodeAtomicFs, ...options.fs };
  const mode = options.mode ?? 0o600;
  const dir = path.dirname(target);
  if (options.dirMode !== false) {
    try {
      await fs.mkdir(dir, { recursive: true, mode: options.dirMode ?? 0o700 });
    } catch (error) {
      throw new AtomicWriteError({ file: target, step: "mkdir", cause: error });
    }
  }
  const tmp = atomicTempPath(target);
  let step: AtomicWriteStep = "open";
  let created = false;
  try {
    const handle = await fs.open(tmp, "wx", mode);
    created = true;
    try {
      step = "chmod";
      await handle.chmod(mode);
      step = "write";
      await handle.writeFile(typeof data === "function" ? data() : data, { encoding: "utf8" });
      step = "fsync";
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    step = "close";
    await handle.close();
    step = "rename";
    await fs.rename(tmp, target);
    created = false;
  } catch (error) {
    if (created) await fs.unlink(tmp).catch(() => undefined);
    throw new AtomicWriteError({ file: target, step, cause: error });
  }
  // Make the rename itself durable. The new file is already in place, so a failure is only reported.
  try {
    const dirHandle = await fs.open(dir, "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (error) {
    options.onDirSyncError?.(error);
  }
}

/** Copies `source` over `target` atomically, streamed, with `options.mode` (never the source's mode). */
export function copyFileAtomic(source: string, target: string, options: AtomicWriteAsyncOptions = {}): Promise<void> {
  return writeFileAtomic(target, () => fsSync.createReadStream(source), options);
}

/** {@link writeFileAtomic} for callers that cannot await: the same steps in the same order, with `node:fs` sync calls. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const mode = options.mode ?? 0o600;
  const dir = path.dirname(target);
  if (options.dirMode !== false) {
    try {
      fsSync.mkdirSync(dir, { recursive: true, mode: options.dirMode ?? 0o700 });
    } catch (error) {
      throw new AtomicWriteError({ file: target, step: "mkdir", cause: error });
    }
  }
  const tmp = atomicTempPath(target);
  let step: AtomicWriteStep = "open";
  let created = false;
  try {
    const fd = fsSync.openSync(tmp, "wx", mode);
    created = true;
    try {
      step = "chmod";
      fsSync.fchmodSync(fd, mode);
      step = "write";
      fsSync.writeFileSync(fd, data, { encoding: "utf8" });
      step = "fsync";
      fsSync.fsyncSync(fd);
    } catch (error) {
      try {
        fsSync.closeSync(fd);
      } catch {
        // the write already failed; that error is the one to report
      }
      throw error;
    }
    step = "close";
    fsSync.closeSync(fd);
    step = "rename";
    fsSync.renameSync(tmp, target);
    created = false;
  } catch (error) {
    if (created) {
      try {
        fsSync.unlinkSync(tmp);
      } catch {
        // best effort
      }
    }
    throw new AtomicWriteError({ file: target, step, cause: error });
  }
  try {
    const dirFd = fsSync.openSync(dir, "r");
    try {
      fsSync.fsyncSync(dirFd);
    } finally {
      fsSync.closeSync(dirFd);
    }
  } catch (error) {
    options.onDirSyncError?.(error);
  }
}
