import { execFileSync } from "node:child_process";
import { mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";

/** True when this process may mount filesystems (root): the tmpfs tests run, else they are skipped. */
export const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;

export interface SmallVolume {
  readonly dir: string;
  /** Fills the volume with a filler file until a write answers ENOSPC (leaving `spareBytes` free when given). */
  fill(spareBytes?: number): Promise<void>;
  /** Removes the filler: the volume has room again. */
  free(): Promise<void>;
  /** Unmounts (lazily, so an open file cannot keep it mounted). Idempotent. */
  unmount(): void;
}

/**
 * Mounts a small tmpfs at `dir` (created when missing; root only — use `IS_ROOT` to skip): a disk
 * that really fills up. `fill()` takes every free byte (minus `spareBytes`), `free()` gives them back.
 */
export async function mountSmallVolume(dir: string, sizeKb = 64): Promise<SmallVolume> {
  await mkdir(dir, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeKb}k,mode=0700`, "tmpfs", dir]);
  const filler = join(dir, ".filler");
  let mounted = true;
  return {
    dir,
    async fill(spareBytes = 0) {
      const handle = await open(filler, "a");
      try {
        const page = Buffer.alloc(4096, 0x2e);
        for (;;) {
          try {
            await handle.write(page);
          } catch {
            break; // ENOSPC: full
          }
        }
        if (spareBytes > 0) {
          const { size } = await handle.stat();
          await handle.truncate(Math.max(0, size - spareBytes));
        }
      } finally {
        await handle.close();
      }
    },
    async free() {
      await unlink(filler).catch(() => undefined);
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      execFileSync("umount", ["-l", dir]);
    },
  };
}
