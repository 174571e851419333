import { execFileSync } from "node:child_process";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type AtomicFileHandle,
  AtomicWriteError,
  type AtomicWriteFs,
  type AtomicWriteOptions,
  atomicTempPath,
  copyFileAtomic,
  writeFileAtomic,
  writeFileAtomicSync,
} from "./atomic-write.js";

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "internal-atomic-"));
});
afterEach(async () => {
  await fsp.chmod(dir, 0o700).catch(() => undefined);
  await fsp.rm(dir, { recursive: true, force: true });
});

const modeOf = async (file: string) => (await fsp.stat(file)).mode & 0o777;

type Write = (target: string, data: string, options?: AtomicWriteOptions) => Promise<void>;
const variants: Array<[string, Write]> = [
  ["writeFileAtomic", (target, data, options) => writeFileAtomic(target, data, options)],
  ["writeFileAtomicSync", async (target, data, options) => writeFileAtomicSync(target, data, options)],
];

describe.each(variants)("%s", (_name, write) => {
  it("creates the file with mode 0600 and its missing directories with 0700", async () => {
    const target = path.join(dir, "a", "b", "state.json");
    await write(target, "one\n");
    expect(await fsp.readFile(target, "utf8")).toBe("one\n");
    expect(await modeOf(target)).toBe(0o600);
    expect(await modeOf(path.join(dir, "a"))).toBe(0o700);
    expect(await modeOf(path.join(dir, "a", "b"))).toBe(0o700);
  });

  it("replaces an existing file, narrowing its mode to the requested one, and leaves no temp file", async () => {
    const target = path.join(dir, "state.json");
    await fsp.writeFile(target, "old, and longer than the new content\n", { mode: 0o644 });
    await write(target, "new\n");
    expect(await fsp.readFile(target, "utf8")).toBe("new\n");
    expect(await modeOf(target)).toBe(0o600);
    expect(await fsp.readdir(dir)).toEqual(["state.json"]);
  });

  it("applies the requested mode whatever the umask", async () => {
    const target = path.join(dir, "tool");
    const previous = process.umask(0o077);
    try {
      await write(target, "#!/bin/sh\n", { mode: 0o755 });
    } finally {
      process.umask(previous);
    }
    expect(await modeOf(target)).toBe(0o755);
  });

  it("with dirMode false, a missing directory fails at open and nothing is created", async () => {
    const target = path.join(dir, "missing", "state.json");
    const error = await write(target, "x", { dirMode: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtomicWriteError);
    expect((error as AtomicWriteError).step).toBe("open");
    expect((error as AtomicWriteError).code).toBe("ENOENT");
    expect((error as AtomicWriteError).message).toContain(target);
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it("a failed rename keeps the old target, removes the temp file and names the step", async () => {
    // A non-empty directory where the file should go: rename(2) refuses to replace it.
    const target = path.join(dir, "state.json");
    await fsp.mkdir(target);
    await fsp.writeFile(path.join(target, "keep"), "kept");
    const error = await write(target, "new").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AtomicWriteError);
    expect((error as AtomicWriteError).step).toBe("rename");
    expect((error as AtomicWriteError).code).toMatch(/^(EISDIR|ENOTEMPTY|EEXIST)$/);
    expect(await fsp.readdir(dir)).toEqual(["state.json"]);
    expect(await fsp.readFile(path.join(target, "keep"), "utf8")).toBe("kept");
  });

  // An unwritable directory: a 0500 dir for a normal user (EACCES); root writes anywhere, so as
  // root the directory is a tmpfs remounted read-only (EROFS). Either way: fails at open, old file kept.
  it("a directory it cannot write fails at open and leaves the old file", async () => {
    const root = process.getuid?.() === 0;
    const volume = path.join(dir, "volume");
    await fsp.mkdir(volume);
    if (root) execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", volume]);
    try {
      const target = path.join(volume, "state.json");
      await fsp.writeFile(target, "old");
      if (root) execFileSync("mount", ["-o", "remount,ro", volume]);
      else await fsp.chmod(volume, 0o500);
      const error = await write(target, "new").catch((e: unknown) => e);
      expect((error as AtomicWriteError).step).toBe("open");
      expect((error as AtomicWriteError).code).toBe(root ? "EROFS" : "EACCES");
      expect(await fsp.readFile(target, "utf8")).toBe("old");
      expect(await fsp.readdir(volume)).toEqual(["state.json"]);
    } finally {
      if (root) execFileSync("umount", [volume]);
      else await fsp.chmod(volume, 0o700);
    }
  });
});

describe("atomicTempPath", () => {
  it("is .<file>.<pid>.<12 hex>.tmp beside the target, different every call", () => {
    const target = path.join(dir, "delegations_seen.json");
    const a = atomicTempPath(target);
    expect(path.dirname(a)).toBe(dir);
    expect(path.basename(a)).toMatch(new RegExp(`^\\.delegations_seen\\.json\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
    expect(atomicTempPath(target)).not.toBe(a);
  });

  it("keeps a dot file's one leading dot (.auth_token → .auth_token.<pid>.<hex>.tmp)", () => {
    const tmp = path.basename(atomicTempPath(path.join(dir, ".auth_token")));
    expect(tmp).toMatch(new RegExp(`^\\.auth_token\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
  });
});

/** The real `node:fs/promises` behind the seam, recording each call and failing the `failAt`-th (1-based). */
function recordingFs(failAt = 0) {
  const calls: string[] = [];
  const gate = (call: string) => {
    calls.push(call);
    if (calls.length === failAt) throw Object.assign(new Error(`injected failure at ${call}`), { code: "EIO" });
  };
  const label = (p: string) => (p === dir ? "dir" : path.basename(p).endsWith(".tmp") ? "tmp" : path.basename(p));
  const wrap = (handle: fsp.FileHandle, name: string): AtomicFileHandle => ({
    async chmod(mode) {
      gate(`${name}.chmod`);
      await handle.chmod(mode);
    },
    async writeFile(data, options) {
      gate(`${name}.write`);
      await fsp.writeFile(handle, data, options);
    },
    async sync() {
      gate(`${name}.fsync`);
      await handle.sync();
    },
    async close() {
      try {
        gate(`${name}.close`);
      } finally {
        await handle.close();
      }
    },
  });
  const fs: AtomicWriteFs = {
    async open(p, flags, mode) {
      gate(`open ${label(p)}`);
      return wrap(await fsp.open(p, flags, mode), label(p));
    },
    async rename(from, to) {
      gate(`rename ${label(from)} ${label(to)}`);
      await fsp.rename(from, to);
    },
    async unlink(p) {
      gate(`unlink ${label(p)}`);
      await fsp.unlink(p);
    },
    async mkdir(p, options) {
      gate(`mkdir ${label(p)}`);
      return fsp.mkdir(p, options);
    },
  };
  return { fs, calls };
}

describe("writeFileAtomic through the fs seam", () => {
  const target = () => path.join(dir, "state.json");

  it("opens the temp file wx with the mode, then chmod, write, fsync, close, rename, directory fsync", async () => {
    const opened: Array<{ name: string; flags: string; mode: number | undefined }> = [];
    const { fs, calls } = recordingFs();
    const open = fs.open;
    fs.open = (p, flags, mode) => {
      opened.push({ name: path.basename(p), flags, mode });
      return open(p, flags, mode);
    };
    await writeFileAtomic(target(), "data", { fs });
    expect(calls).toEqual([
      "mkdir dir",
      "open tmp",
      "tmp.chmod",
      "tmp.write",
      "tmp.fsync",
      "tmp.close",
      "rename tmp state.json",
      "open dir",
      "dir.fsync",
      "dir.close",
    ]);
    expect(opened[0]?.flags).toBe("wx");
    expect(opened[0]?.mode).toBe(0o600);
    expect(opened[0]?.name).toMatch(/^\.state\.json\.\d+\.[0-9a-f]{12}\.tmp$/);
    expect(opened[1]).toEqual({ name: path.basename(dir), flags: "r", mode: undefined });
  });

  it.each([
    [1, "mkdir"],
    [2, "open"],
    [3, "chmod"],
    [4, "write"],
    [5, "fsync"],
    [6, "close"],
    [7, "rename"],
  ] as const)(
    "a failure at call %i is reported as step %s; the old file stays and the temp file is removed",
    async (failAt, step) => {
      await fsp.writeFile(target(), "old");
      const { fs, calls } = recordingFs(failAt);
      const error = await writeFileAtomic(target(), "new", { fs }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AtomicWriteError);
      expect((error as AtomicWriteError).step).toBe(step);
      expect((error as AtomicWriteError).code).toBe("EIO");
      expect((error as AtomicWriteError).file).toBe(target());
      expect(await fsp.readFile(target(), "utf8")).toBe("old");
      expect(await fsp.readdir(dir)).toEqual(["state.json"]);
      // The temp file is unlinked exactly when it was created.
      expect(calls.includes("unlink tmp")).toBe(failAt >= 3);
    },
  );

  it.each([
    [8, "open dir"],
    [9, "dir.fsync"],
  ])("a directory fsync failure (call %i, %s) still resolves with the new file and is reported", async (failAt) => {
    await fsp.writeFile(target(), "old");
    const { fs } = recordingFs(failAt);
    const reported: unknown[] = [];
    await writeFileAtomic(target(), "new", { fs, onDirSyncError: (error) => reported.push(error) });
    expect(await fsp.readFile(target(), "utf8")).toBe("new");
    expect(reported).toHaveLength(1);
    expect((reported[0] as { code?: string }).code).toBe("EIO");
  });
});

describe("copyFileAtomic", () => {
  it("copies the bytes with mode 0600 even from a 0644 source", async () => {
    const source = path.join(dir, "source.jsonl");
    const bytes = Buffer.alloc(300_000, "x"); // several stream chunks
    await fsp.writeFile(source, bytes, { mode: 0o644 });
    const target = path.join(dir, "project", "copy.jsonl");
    await copyFileAtomic(source, target);
    expect((await fsp.readFile(target)).equals(bytes)).toBe(true);
    expect(await modeOf(target)).toBe(0o600);
  });

  it("a missing source fails at the write step with ENOENT and leaves no temp file", async () => {
    const target = path.join(dir, "copy.jsonl");
    const error = await copyFileAtomic(path.join(dir, "nope.jsonl"), target).catch((e: unknown) => e);
    expect((error as AtomicWriteError).step).toBe("write");
    expect((error as AtomicWriteError).code).toBe("ENOENT");
    expect(await fsp.readdir(dir)).toEqual([]);
  });
});
