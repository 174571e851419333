// A scratch copy of the workspace for the release rehearsal, so `changeset version` and
// `changeset publish` never touch the working tree: the files git knows (tracked, and untracked ones
// not ignored — a new changeset not yet added counts), plus the already built dist/ folders of the
// given packages, plus a link to the root node_modules (the changesets CLI and its changelog
// generator resolve from there) and, in each package, node_modules links to the scratch copies of
// its `workspace:` dependencies — `pnpm publish` reads their versions there to rewrite the ranges,
// so they must be the versioned copies, not the working tree's. Nothing is built again. The copy is its own git repository with
// one commit, so `changeset publish` can create its tags.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

/**
 * @param {{ root: string, dest: string, builtDirs: string[] }} options
 *   `builtDirs`: package folders (relative to root) whose dist/ is copied too.
 * @returns {{ files: number, bytes: number }}
 */
export function scratchCopy({ root, dest, builtDirs }) {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  })
    .split("\0")
    .filter(Boolean);
  let files = 0;
  let bytes = 0;
  for (const path of new Set(listed)) {
    if (path.split("/").includes("node_modules")) continue; // a node_modules symlink is not ignored by `node_modules/`
    const from = join(root, path);
    let stat;
    try {
      stat = lstatSync(from);
    } catch {
      continue; // deleted in the working tree but still in the index
    }
    const to = join(dest, path);
    mkdirSync(dirname(to), { recursive: true });
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (stat.isFile()) {
      cpSync(from, to, { preserveTimestamps: true });
      files += 1;
      bytes += stat.size;
    }
  }
  for (const dir of builtDirs) {
    cpSync(join(root, dir, "dist"), join(dest, dir, "dist"), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(join(root, "node_modules"), join(dest, "node_modules"), "dir");
  linkWorkspaceDependencies(dest);

  const git = (/** @type {string[]} */ ...args) =>
    execFileSync("git", args, { cwd: dest, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  git("init", "-q", "-b", "main");
  // `changeset publish` creates annotated tags: they need an identity.
  git("config", "user.name", "release rehearsal");
  git("config", "user.email", "rehearsal@localhost");
  git("config", "commit.gpgsign", "false");
  git("config", "tag.gpgsign", "false");
  writeFileSync(join(dest, ".git", "info", "exclude"), "node_modules\n");
  git("add", "-A");
  git("commit", "-q", "--no-verify", "-m", "rehearsal scratch copy");
  return { files, bytes };
}

/**
 * For every workspace package (packages/*, apps/*) of `dest`, links node_modules/<dep> to the
 * scratch folder of each dependency declared with the `workspace:` protocol (any dependency field).
 * @param {string} dest
 */
function linkWorkspaceDependencies(dest) {
  /** @type {Map<string, { dir: string, manifest: Record<string, any> }>} */
  const byName = new Map();
  for (const group of ["packages", "apps"]) {
    if (!existsSync(join(dest, group))) continue;
    for (const name of readdirSync(join(dest, group))) {
      const file = join(dest, group, name, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      byName.set(manifest.name, { dir: join(dest, group, name), manifest });
    }
  }
  for (const { dir, manifest } of byName.values()) {
    for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
      for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
        const target = byName.get(dep);
        if (!String(range).startsWith("workspace:") || !target) continue;
        const link = join(dir, "node_modules", ...dep.split("/"));
        if (existsSync(link)) continue;
        mkdirSync(dirname(link), { recursive: true });
        symlinkSync(target.dir, link, "dir");
      }
    }
  }
}
