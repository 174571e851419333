import { readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Where an adapter module was found: its entry file, and the package.json that owns it (if any). */
export interface ResolvedAdapter {
  found: true;
  /** The module's entry file, absolute. */
  file: string;
  /** The adapter package's package.json (for a package name: its own; for a path: the nearest one). */
  packageJson: string | undefined;
}

/** Not found: every place the resolver looked, in order. */
export interface UnresolvedAdapter {
  found: false;
  looked: string[];
}

/** The conditions an adapter's `exports` map is read with: the daemon imports it from Node. */
const CONDITIONS = new Set(["node", "import", "require", "default"]);

/** A path (`./x.js`, `../x`, `/abs/x`) rather than a package name. @internal */
export function isPathSpec(spec: string): boolean {
  return isAbsolute(spec) || spec === "." || spec === ".." || /^\.\.?[\\/]/.test(spec);
}

/** This module's file: the daemon's own install, where a package installed beside it is found. */
function selfFile(): string {
  // The CJS build has __filename; the ESM build (and the sources under vitest) have import.meta.url.
  return typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() === true;
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/** `name` and the subpath of a bare specifier: `@acme/x/lib/a.js` → `@acme/x`, `./lib/a.js`. */
function splitName(spec: string): { name: string; subpath: string } {
  const parts = spec.split("/");
  const count = spec.startsWith("@") ? 2 : 1;
  const rest = parts.slice(count).join("/");
  return { name: parts.slice(0, count).join("/"), subpath: rest ? `./${rest}` : "." };
}

/** One target of an `exports` map with Node's conditions (first matching key wins, arrays: first that resolves). */
function exportTarget(target: unknown): string | undefined {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const found = exportTarget(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (target && typeof target === "object") {
    for (const [key, value] of Object.entries(target)) {
      if (!CONDITIONS.has(key)) continue;
      const found = exportTarget(value);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The file `subpath` of a package maps to through its `exports` (exact subpaths and `*` patterns). */
function fromExports(exports: unknown, subpath: string): string | undefined {
  const isSubpathMap =
    exports !== null &&
    typeof exports === "object" &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((key) => key.startsWith("."));
  if (!isSubpathMap) return subpath === "." ? exportTarget(exports) : undefined;
  const map = exports as Record<string, unknown>;
  if (subpath in map) return exportTarget(map[subpath]);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf("*");
    if (star < 0) continue;
    const [before, after] = [key.slice(0, star), key.slice(star + 1)];
    if (subpath.startsWith(before) && subpath.endsWith(after) && subpath.length >= key.length - 1) {
      const middle = subpath.slice(before.length, subpath.length - after.length);
      return exportTarget(value)?.replaceAll("*", middle);
    }
  }
  return undefined;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A package's entry for `subpath`: `exports` when it has them, else `main` / index.js as `require` finds them. */
async function packageEntry(dir: string, subpath: string): Promise<string | undefined> {
  const pkg = await readJson(join(dir, "package.json"));
  if (pkg?.exports !== undefined) {
    const target = fromExports(pkg.exports, subpath);
    if (target === undefined) return undefined;
    const file = resolve(dir, target);
    return (file === dir || file.startsWith(dir + sep)) && (await isFile(file)) ? file : undefined;
  }
  try {
    return createRequire(join(dir, "package.json")).resolve(subpath === "." ? dir : join(dir, subpath));
  } catch {
    return undefined;
  }
}

/** The nearest package.json at or above `dir`. */
async function nearestPackageJson(dir: string): Promise<string | undefined> {
  for (let at = dir; ; at = dirname(at)) {
    if (await isFile(join(at, "package.json"))) return join(at, "package.json");
    if (dirname(at) === at) return undefined;
  }
}

/** The `node_modules` dirs Node looks through from `fromFile` (its dir and every parent, then the global folders). */
function lookupDirs(fromFile: string, name: string): string[] {
  return createRequire(fromFile).resolve.paths(name) ?? [];
}

/**
 * Finds the adapter module `spec` names. A path (`./adapter.js`, `/opt/x`) is resolved against the
 * config dir: a file, or a directory with a package.json or index.js. A package name is looked up in
 * the `node_modules` of the config dir and its parents, then in the daemon's own install (the
 * `node_modules` around `@molecule/runtime`: a global install beside it, the workspace image's
 * `/opt/molecule/node_modules`), then Node's global folders.
 * `exports` maps are read with the `node`, `import`, `require` and `default` conditions. @internal
 */
export async function resolveAdapter(
  spec: string,
  options: { configDir: string; selfFile?: string },
): Promise<ResolvedAdapter | UnresolvedAdapter> {
  const configDir = resolve(options.configDir);
  if (isPathSpec(spec)) {
    const path = resolve(configDir, spec);
    let file: string | undefined;
    if (await isFile(path)) file = path;
    else if (await isDir(path)) file = await packageEntry(path, ".");
    else {
      try {
        file = createRequire(join(configDir, "package.json")).resolve(path); // x → x.js, x.cjs, …
      } catch {
        file = undefined;
      }
    }
    if (file === undefined) return { found: false, looked: [path] };
    return { found: true, file, packageJson: await nearestPackageJson(dirname(file)) };
  }
  const { name, subpath } = splitName(spec);
  // The config dir and its parents, the daemon's install and its parents, then Node's global folders.
  const fromConfig = lookupDirs(join(configDir, "package.json"), name);
  const fromSelf = lookupDirs(options.selfFile ?? selfFile(), name);
  const walk = (dirs: string[]) => dirs.filter((dir) => basename(dir) === "node_modules");
  const globals = [...fromConfig, ...fromSelf].filter((dir) => basename(dir) !== "node_modules");
  const dirs = [...walk(fromConfig), ...walk(fromSelf), ...globals];
  const looked: string[] = [];
  for (const dir of new Set(dirs)) {
    const pkgDir = join(dir, name);
    if (!(await isDir(pkgDir))) {
      looked.push(dir);
      continue;
    }
    const file = await packageEntry(pkgDir, subpath);
    if (file !== undefined) return { found: true, file, packageJson: join(pkgDir, "package.json") };
    looked.push(`${pkgDir} (there, but with no entry file for ${JSON.stringify(subpath)})`);
  }
  return { found: false, looked };
}
