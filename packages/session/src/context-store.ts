import { resolve } from "node:path";
import { errorText } from "@molecule/internal";
import * as z from "zod";
import { SessionError } from "./errors.js";
import { isValidSessionId, printableId } from "./ids.js";
import type { SessionLogger } from "./logger.js";
import type { SessionStore } from "./store.js";
import { assertStorableId, readStoredFile, writeStoredFile } from "./stored-file.js";

/** The longest context id the store keeps (A2A context ids are caller-chosen strings). */
export const MAX_CONTEXT_ID_LENGTH = 256;

/**
 * One session id per conversation (e.g. per A2A `contextId`), in one file, least recently used
 * forgotten beyond `maxContexts`. `forContext(id)` is a {@link SessionStore}: hand it to
 * `planResume` / `recordTurn` exactly like the one-session store.
 */
export interface ContextSessionStore {
  /** The store of one context. Throws `E_SESSION_BAD_OPTIONS` for an empty id or one over 256 characters. */
  forContext(contextId: string): SessionStore;
  /** The contexts that have a session, least recently used first. */
  contexts(): Promise<string[]>;
}

export interface ContextSessionStoreOptions {
  /** The file to keep the ids in, e.g. `<state dir>/contexts.json`. Its directory is created (0700) on the first write. */
  file: string;
  /** Keep at most this many contexts; the least recently used beyond it are forgotten (default 256). */
  maxContexts?: number | undefined;
  logger?: SessionLogger | undefined;
}

const StoredContexts = z.object({
  version: z.literal(1),
  contexts: z.array(
    z.object({
      contextId: z.string().min(1).max(MAX_CONTEXT_ID_LENGTH),
      sessionId: z.string().refine(isValidSessionId, "not a session id"),
    }),
  ),
});

/**
 * Remembers a session id per context in one small JSON file (atomic temp file + rename, 0600).
 * The file is read once; this process is its only writer from then on. Using a context (its
 * store's `get`) makes it the most recently used; a change of that order is written too, so the
 * order survives a restart. Evicted contexts' transcripts are left where they are.
 */
export function createContextSessionStore(options: ContextSessionStoreOptions): ContextSessionStore {
  if (typeof options?.file !== "string" || options.file === "") {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: "createContextSessionStore needs { file }: where to keep the ids (e.g. <state dir>/contexts.json)",
    });
  }
  const maxContexts = options.maxContexts ?? 256;
  if (!Number.isInteger(maxContexts) || maxContexts < 1) {
    throw new SessionError({
      code: "E_SESSION_BAD_OPTIONS",
      message: `maxContexts must be a whole number ≥ 1 (got ${String(options.maxContexts)})`,
    });
  }
  const file = resolve(options.file);
  const logger = options.logger;
  /** contextId → sessionId; Map order is the use order, least recent first. */
  let entries: Map<string, string> | undefined;
  let loading: Promise<Map<string, string>> | undefined;
  let writes: Promise<void> = Promise.resolve();

  async function load(): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    const stored = await readStoredFile(file, StoredContexts);
    if (stored === undefined) return map;
    if ("problem" in stored) {
      corrupt(stored.problem);
      return map;
    }
    for (const { contextId, sessionId } of stored.data.contexts.slice(-maxContexts)) {
      map.delete(contextId);
      map.set(contextId, sessionId);
    }
    return map;
  }

  function corrupt(problem: string): void {
    logger?.warn(
      { event: "session.store_corrupt", file, problem },
      `context store ${file} is unreadable (${problem}); every context starts a fresh session — the next successful turn rewrites it`,
    );
  }

  async function current(): Promise<Map<string, string>> {
    if (entries) return entries;
    loading ??= load().then((map) => {
      entries = map;
      return map;
    });
    return loading;
  }

  /** Writes the whole map as it is when the write starts; writes run one after another. */
  function persist(map: Map<string, string>): Promise<void> {
    const run = writes.then(async () => {
      const contexts = [...map].map(([contextId, sessionId]) => ({ contextId, sessionId }));
      await writeStoredFile(file, { version: 1, contexts }, "context store");
    });
    writes = run.catch(() => undefined);
    return run;
  }

  function checkContextId(contextId: unknown): string {
    if (typeof contextId !== "string" || contextId === "" || contextId.length > MAX_CONTEXT_ID_LENGTH) {
      throw new SessionError({
        code: "E_SESSION_BAD_OPTIONS",
        message: `a context id is a non-empty string of at most ${MAX_CONTEXT_ID_LENGTH} characters (got ${JSON.stringify(printableId(contextId))})`,
      });
    }
    return contextId;
  }

  return {
    forContext(contextId) {
      const key = checkContextId(contextId);
      return {
        async get() {
          const map = await current();
          const sessionId = map.get(key);
          if (sessionId === undefined) return undefined;
          const newest = [...map.keys()].at(-1);
          if (newest !== key) {
            // Used now: the most recent. Persisting the order must never fail a read.
            map.delete(key);
            map.set(key, sessionId);
            await persist(map).catch((error: unknown) =>
              logger?.warn(
                {
                  event: "session.store_write_failed",
                  file,
                  error: errorText(error),
                },
                "could not record which context was used last; the order is kept in memory",
              ),
            );
          }
          return sessionId;
        },
        async set(id) {
          assertStorableId(id);
          const map = await current();
          map.delete(key);
          map.set(key, id);
          for (const oldest of map.keys()) {
            if (map.size <= maxContexts) break;
            map.delete(oldest);
            logger?.info(
              { event: "session.context_forgotten", contextId: printableId(oldest), maxContexts },
              "forgot the least recently used context (its transcript stays on disk)",
            );
          }
          await persist(map);
        },
        async clear() {
          const map = await current();
          if (!map.delete(key)) return;
          await persist(map);
        },
      };
    },
    async contexts() {
      return [...(await current()).keys()];
    },
  };
}
