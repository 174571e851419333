import { isMountedSecretFile } from "./secret-mount.js";

/** A token file that group or others can access, and how to fix it. */
export interface LooseTokenMode {
  /** The permission bits as `0644`. */
  mode: string;
  /** `token file <file> is mode 0644 (group/world can access it)`. */
  problem: string;
  /** The command that fixes it: `chmod 600 <file>`. */
  fix: string;
}

/**
 * The one token-file-mode warning (the platform token store, `molecule auth check`, preflight):
 * undefined when `mode` gives nothing to group or others, or when `file` is a mounted Kubernetes
 * Secret (the kubelet's read-only 0440, nothing to fix); otherwise what is wrong and the fix.
 */
export async function looseTokenMode(file: string, mode: number | bigint): Promise<LooseTokenMode | undefined> {
  const bits = Number(BigInt(mode) & 0o777n);
  if ((bits & 0o077) === 0) return undefined;
  if (await isMountedSecretFile(file, bits)) return undefined;
  const octal = `0${bits.toString(8).padStart(3, "0")}`;
  return {
    mode: octal,
    problem: `token file ${file} is mode ${octal} (group/world can access it)`,
    fix: `chmod 600 ${file}`,
  };
}
