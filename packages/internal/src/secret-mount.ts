import { readlink } from "node:fs/promises";

/**
 * True when `file` is a file of a mounted Kubernetes Secret or ConfigMap (a symlink into the
 * volume's `..data/` folder) whose mode gives nothing to the world. The kubelet makes such files
 * 0440 root:<fsGroup> whatever `defaultMode` says, and they cannot be chmod'ed (read-only), so a
 * "group can read it; chmod 600" warning about them would be noise with no possible fix.
 */
export async function isMountedSecretFile(file: string, mode: number | bigint): Promise<boolean> {
  if ((BigInt(mode) & 0o007n) !== 0n) return false;
  try {
    const target = await readlink(file);
    return target.startsWith("..data/");
  } catch {
    return false;
  }
}
