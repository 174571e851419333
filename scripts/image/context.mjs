// The build context, copied to a scratch dir (the repository's tree is never touched), with canary
// files planted where a careless context would carry secrets or local state into a layer.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * The canary marker, new each run (so it appears in no source file): no layer of the image may hold
 * these bytes, nor a file named like one of the canaries.
 */
export const CANARY_MARK = `molecule-canary-${randomUUID()}`;

/** Planted files, relative to the context; each name is one .dockerignore must keep out. */
export const CANARIES = [
  ".auth_token",
  ".auth_token.bak",
  "examples/workspace/.auth_token",
  ".env",
  ".env.local",
  "apps/runtime/.env.production",
  ".molecule/session.json",
  "examples/workspace/.molecule/admin.token",
  "node_modules/canary-package/index.js",
  "apps/runtime/node_modules/canary-package/index.js",
  ".git/canary-config",
  "packages/config/.git/canary-config",
];

/** Files of the working tree: tracked and untracked-but-not-ignored (what a fresh checkout plus edits holds). */
function listFiles(repo) {
  const git = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: repo,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (git.status === 0) return git.stdout.split("\0").filter((f) => f !== "" && existsSync(join(repo, f)));
  // No git (a source tarball): everything but installs, VCS and build output.
  const files = [];
  const skip = new Set([".git", "node_modules", "dist", ".turbo", "coverage"]);
  const walk = (rel) => {
    for (const entry of readdirSync(join(repo, rel), { withFileTypes: true })) {
      if (skip.has(entry.name)) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk("");
  return files;
}

/** Copies the working tree to `dir` and plants the canaries. Returns the number of files copied. */
export function prepareContext(repo, dir) {
  const files = listFiles(repo);
  for (const file of files) {
    const target = join(dir, file);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(repo, file), target, { dereference: false, preserveTimestamps: true });
  }
  if (!existsSync(join(dir, "Dockerfile")) || !existsSync(join(dir, ".dockerignore"))) {
    throw new Error("the build context has no Dockerfile or .dockerignore at its root");
  }
  for (const canary of CANARIES) {
    const target = join(dir, canary);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${CANARY_MARK} ${canary}\n`, { mode: 0o600 });
  }
  return files.length;
}

/** Each canary's last two path segments ("workspace/.auth_token", ".molecule/session.json"). */
const CANARY_TAILS = CANARIES.map((canary) => canary.split("/").slice(-2).join("/"));

/** True when a path inside an image layer ends like a planted canary (wherever it was copied to). */
export function isCanaryPath(path) {
  const clean = path.replace(/^\.?\//, "").replace(/\/$/, "");
  return CANARY_TAILS.some((tail) => clean === tail || clean.endsWith(`/${tail}`));
}
