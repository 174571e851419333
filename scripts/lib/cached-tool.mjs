// Pinned npm tools that must not be workspace dependencies — the loopback registry of the release
// rehearsal (327 packages would join every `pnpm install`), the workflow linter — installed on demand
// into <cache>/molecule/<name>-<version>, outside the workspace, the way scripts/bootstrap.mjs
// brings pnpm. A second run finds them there and installs nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** `$XDG_CACHE_HOME/molecule` or `~/.cache/molecule`. */
export function cacheRoot() {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "molecule");
}

/**
 * Makes sure `name@version` is installed in its cache folder and returns where.
 * @param {{ name: string, version: string, overrides?: Record<string, string>, env?: Record<string, string> }} tool
 * @returns {{ dir: string, packageDir: string, installed: boolean, seconds: number }}
 *   `installed` is true when this call had to install it.
 */
export function ensureCachedTool({ name, version, overrides, env }) {
  const dir = join(cacheRoot(), `${name.replace(/^@/, "").replace(/\//g, "-")}-${version}`);
  const packageDir = join(dir, "node_modules", ...name.split("/"));
  const manifest = `${JSON.stringify(
    { name: "molecule-cached-tool", private: true, dependencies: { [name]: version }, overrides: overrides ?? {} },
    null,
    2,
  )}\n`;
  const manifestFile = join(dir, "package.json");
  const current =
    existsSync(manifestFile) &&
    readFileSync(manifestFile, "utf8") === manifest &&
    installedVersion(packageDir) === version;
  if (current) return { dir, packageDir, installed: false, seconds: 0 };

  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(manifestFile, manifest);
  const result = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: dir,
    env: env ?? process.env,
    encoding: "utf8",
    timeout: 10 * 60_000,
  });
  if (result.status !== 0 || installedVersion(packageDir) !== version) {
    rmSync(dir, { recursive: true, force: true });
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n  ");
    throw new Error(
      `E_TOOL_INSTALL: could not install ${name}@${version} into ${dir} ` +
        `(npm install exited ${result.status ?? result.signal}${result.error ? `: ${result.error.message}` : ""}).\n  ${output}\n` +
        "Fix: check that the npm registry is reachable (npm ping), then run again.",
    );
  }
  return { dir, packageDir, installed: true, seconds: (Date.now() - started) / 1000 };
}

/** @param {string} packageDir */
function installedVersion(packageDir) {
  try {
    return JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}
