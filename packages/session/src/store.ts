import { unlink } from "node:fs/promises";
import { resolve } from "node:path";
import { errnoCode } from "@molecule/internal";
import * as z from "zod";
import { SessionError } from "./errors.js";
import { isValidSessionId } from "./ids.js";
import type { SessionLogger } from "./logger.js";
import { assertStorableId, readStoredFile, writeStoredFile } from "./stored-file.js";

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
      const stored = await readStoredFile(file, StoredSession);
      if (stored === undefined) return undefined;
      if ("problem" in stored) return corrupt(stored.problem);
      warnedCorrupt = false;
      return stored.data.sessionId;
    },

    async set(id) {
      assertStorableId(id);
      await writeStoredFile(file, { version: 1, sessionId: id }, "session store");
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
