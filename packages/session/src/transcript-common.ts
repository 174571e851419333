import { readdir, stat } from "node:fs/promises";

/** A canonical UUID (8-4-4-4-12 hex), the only id Codex and Gemini CLI resume by. @internal */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for a canonical UUID. Anything else — `latest`, `--last`, a thread name, an index — is
 * refused: both CLIs silently start a new conversation for an id they do not find by UUID.
 * @internal
 */
export function isUuid(id: unknown): id is string {
  return typeof id === "string" && UUID.test(id);
}

/** The names in a directory, or none when it cannot be read. @internal */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The size of a regular file, or undefined when there is none. @internal */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}
