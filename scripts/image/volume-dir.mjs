// A host directory laid out the way the kubelet's AtomicWriter lays out a Secret or ConfigMap volume:
//   <dir>/..2026_11_25_14_00_00.123456789/<payload>   the files (mode defaultMode | 0440 with fsGroup,
//                                                      owner root, group fsGroup)
//   <dir>/..data -> ..2026_…                          the current payload
//   <dir>/<name> -> ..data/<name>                     one symlink per top-level name
// An update writes a new timestamped dir, points `..data_tmp` at it, renames `..data_tmp` over
// `..data` (the atomic swap a running pod sees) and removes the old dir.
import { chmodSync, chownSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

let sequence = 0;
function stamp() {
  sequence += 1;
  const d = new Date();
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${p(sequence, 9)}`;
}

const root = typeof process.getuid === "function" && process.getuid() === 0;
/** chown as the kubelet does; without root (a Docker engine run by a user) the files are made world-readable instead. */
function own(path, uid, gid) {
  if (root) chownSync(path, uid, gid);
}

/**
 * Creates (or atomically updates) `dir` with `files` ({ "config.yaml": "…", "skills/x/SKILL.md": "…" }),
 * each file `mode`, owner root and group `gid` (what the kubelet does with fsGroup).
 */
export function writeVolume(dir, files, { mode: asked, gid }) {
  const mode = root ? asked : asked | 0o444;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  own(dir, 0, gid);
  chmodSync(dir, 0o755);
  const payload = stamp();
  const payloadDir = join(dir, payload);
  for (const [name, content] of Object.entries(files)) {
    const file = join(payloadDir, name);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    own(file, 0, gid);
  }
  for (const sub of subdirs(files)) own(join(payloadDir, sub), 0, gid);
  own(payloadDir, 0, gid);
  chmodSync(payloadDir, 0o755);
  let previous;
  try {
    previous = readlinkSync(join(dir, "..data"));
  } catch {
    previous = undefined;
  }
  symlinkSync(payload, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  for (const top of new Set(Object.keys(files).map((name) => name.split("/")[0]))) {
    try {
      symlinkSync(join("..data", top), join(dir, top));
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
    }
  }
  if (previous && previous !== payload) rmSync(join(dir, previous), { recursive: true, force: true });
}

function subdirs(files) {
  const dirs = new Set();
  for (const name of Object.keys(files)) {
    const parts = name.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i += 1) dirs.add(parts.slice(0, i).join("/"));
  }
  return dirs;
}
