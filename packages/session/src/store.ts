import { readFile, unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import { SessionError } from "./errors.js";
import { isValidSessionId, printableId } from "./ids.js";
import type { SessionLogger } from "./logger.js";

/** Where the current session id lives between daemon restarts. Any object of this shape works with `planResume` / `recordTurn`. */
export interface SessionStore {
  /** The remembered id, or `undefined` (no file, or a corrupt one — never throws for those). */
  get(): Promise<string | undefined>;
  /** Remembers `id` (atomic temp file + rename, mode 0600). */
  set(id: string): Promise<void>;
  /** Forgets the id. A no-op when nothing is remembered. */
  clear(): Promise<void>;
}

export interface SessionStoreOptions {
  /** The file to keep the id in, e.g. `<state dir>/session.json`. Its directory is created (0700) on the first `set`. */
  file: string;
  logger?: SessionLogger | undefined;
}

const StoredSession = z.object({
  version: z.literal(1),
  sessionId: z.string().refine(isValidSessionId, "not a session id"),
});

/** Remembers the current session id in one small JSON file. */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  if (typeof options?.file !== "string" || options.file === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: "createSessionStore needs { file }: where to keep the session id (e.g. <state dir>/session.json)",
    });
  }
  const file = resolve(options.file);
  const logger = options.logger;
  let warnedCorrupt = false;

  function corrupt(problem: string): undefined {
    if (!warnedCorrupt) {
      warnedCorrupt = true;
      logger?.warn(
        { event: "session.store_corrupt", file, problem },
        `session store ${file} is unreadable (${problem}); starting a fresh session — the next successful turn rewrites it`,
      );
    }
    return undefined;
  }

  return {
    async get() {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        const code = errnoCode(error);
        if (code === "ENOENT") return undefined;
        return corrupt(`read failed: ${code ?? String(error)}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        return corrupt(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      const parsed = StoredSession.safeParse(json);
      if (!parsed.success) return corrupt(`unexpected content: ${z.prettifyError(parsed.error).replace(/\s+/g, " ")}`);
      warnedCorrupt = false;
      return parsed.data.sessionId;
    },

    async set(id) {
      if (!isValidSessionId(id)) {
        throw new SessionError({
          code: "E_SESSION_INVALID_ID",
          message: `refusing to store session id ${JSON.stringify(printableId(id))}: ids are letters, digits and "-", 8–64 characters`,
        });
      }
      try {
        await writeFileAtomic(file, `${JSON.stringify({ version: 1, sessionId: id })}\n`);
      } catch (error) {
        throw new SessionError({
          code: "E_SESSION_STORE_WRITE",
          message: `cannot write the session store ${file}; check that its directory is writable`,
          cause: error,
        });
      }
      warnedCorrupt = false;
    },

    async clear() {
      try {
        await unlink(file);
      } catch (error) {
        if (errnoCode(error) === "ENOENT") return;
        throw new SessionError({
          code: "E_SESSION_STORE_WRITE",
          message: `cannot remove the session store ${file}; check that its directory is writable`,
          cause: error,
        });
      }
      warnedCorrupt = false;
    },
  };
}
