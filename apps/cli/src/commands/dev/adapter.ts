import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { NON_AGENT_RUNTIMES } from "@molecule/preflight";
import { CliError } from "../../errors.js";

// `molecule dev --agent adapter`: the daemon with `runtime: adapter`, loading the template adapter
// package examples/adapter-package (an echo agent: no model API, nothing to fake) by its absolute path.

/** The non-agent runtime `molecule dev` drives (preflight's list is the one that names it). */
export const DEV_ADAPTER_RUNTIME = "adapter";

/** The non-agent runtimes `molecule dev --agent` can drive, in preflight's order (`command` is not one). */
export const DEV_RUNTIME_IDS: readonly string[] = NON_AGENT_RUNTIMES.filter((id) => id === DEV_ADAPTER_RUNTIME);

/** Walks up from `start` to the directory holding examples/adapter-package/package.json. */
export function findExampleAdapter(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "examples", "adapter-package");
    if (existsSync(join(candidate, "package.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The module `runtime_config.module` names: `--adapter` (a path, made absolute from the current
 * directory, or a package name the daemon resolves beside its own install), else the template
 * adapter package's absolute path, found beside this CLI or the current directory.
 */
export function devAdapterModule(here: string, spec: string | undefined): string {
  if (spec !== undefined) return isPathSpec(spec) ? resolve(spec) : spec;
  const found = findExampleAdapter(here) ?? findExampleAdapter(process.cwd());
  if (found === undefined) {
    throw new CliError({
      code: "E_DEV_EXAMPLE_MISSING",
      message: "no template adapter package found (examples/adapter-package); run from the repository",
    });
  }
  return found;
}

/** A path rather than a package name, as the daemon's adapter resolution tells them apart. */
function isPathSpec(spec: string): boolean {
  return isAbsolute(spec) || spec === "." || spec === ".." || /^\.\.?[\\/]/.test(spec);
}
