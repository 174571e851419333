import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a command the way a shell does: a name with a `/` is a path (relative to `cwd`), a bare
 * name is looked up on `env.PATH`. Resolves to the executable file's path, or undefined.
 */
export async function findExecutable(
  command: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd = ".",
): Promise<string | undefined> {
  if (command.includes("/")) {
    const path = resolve(cwd, command);
    return (await isExecutableFile(path)) ? path : undefined;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
