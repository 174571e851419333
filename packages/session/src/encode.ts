import { realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SessionError } from "./errors.js";

const MAX_ENCODED = 200;

/** Java-style 32-bit string hash over UTF-16 units, as the CLI computes it. @internal */
function hash32(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i += 1) h = ((h << 5) - h + text.charCodeAt(i)) | 0;
  return h;
}

/**
 * The project-dir name for an already resolved absolute path: every UTF-16 unit outside
 * `[A-Za-z0-9]` becomes `-`; beyond 200 characters it is cut to 200 and suffixed with
 * `-` + base-36 of |hash| of the unencoded path.
 * @internal
 */
export function encodeResolvedPath(path: string): string {
  // No `u` flag: an astral character (two UTF-16 units) becomes two dashes, as in the CLI.
  const encoded = path.replace(/[^A-Za-z0-9]/g, "-");
  if (encoded.length <= MAX_ENCODED) return encoded;
  return `${encoded.slice(0, MAX_ENCODED)}-${Math.abs(hash32(path)).toString(36)}`;
}

/** The realpath of the longest existing prefix of `path`, with the rest appended as given. @internal */
export async function resolveExisting(path: string): Promise<string> {
  const rest: string[] = [];
  let current = resolve(path);
  for (;;) {
    try {
      const real = await realpath(current);
      return rest.length === 0 ? real : join(real, ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      rest.push(basename(current));
      current = parent;
    }
  }
}

/**
 * The directory name the agent CLI keeps a cwd's transcripts under
 * (`<claude dir>/projects/<this>/`): the realpath of `cwd` encoded as Claude Code does.
 * A cwd that does not exist is encoded as given, after resolving whatever part of it exists.
 */
export async function encodeProjectDir(cwd: string): Promise<string> {
  if (typeof cwd !== "string" || cwd === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: "encodeProjectDir needs the agent's working directory (a non-empty path)",
    });
  }
  return encodeResolvedPath(await resolveExisting(cwd));
}
