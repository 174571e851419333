import { readFile } from "node:fs/promises";
import { errnoCode, errorText, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import { SessionError } from "./errors.js";
import { isValidSessionId, printableId } from "./ids.js";

/**
 * What the session store and the context store share: reading their small JSON file, writing it,
 * and refusing an id that is not a session id.
 */

/** `file` read as JSON of `schema`'s shape: its data, `{ problem }` when it is unusable, undefined when absent. */
export async function readStoredFile<T>(
  file: string,
  schema: z.ZodType<T>,
): Promise<{ data: T } | { problem: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT") return undefined;
    return { problem: `read failed: ${code ?? String(error)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `invalid JSON: ${errorText(error)}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { problem: `unexpected content: ${z.prettifyError(parsed.error).replace(/\s+/g, " ")}` };
  return { data: parsed.data };
}

/** Writes `value` as the store's JSON (atomic, 0600); `E_SESSION_STORE_WRITE` naming `what` when that fails. */
export async function writeStoredFile(file: string, value: unknown, what: string): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(value)}\n`);
  } catch (error) {
    throw new SessionError({
      code: "E_SESSION_STORE_WRITE",
      message: `cannot write the ${what} ${file}; check that its directory is writable`,
      cause: error,
    });
  }
}

/** Throws `E_SESSION_INVALID_ID` unless `id` is a session id. */
export function assertStorableId(id: unknown): asserts id is string {
  if (!isValidSessionId(id)) {
    throw new SessionError({
      code: "E_SESSION_INVALID_ID",
      message: `refusing to store session id ${JSON.stringify(printableId(id))}: ids are letters, digits and "-", 8–64 characters`,
    });
  }
}
