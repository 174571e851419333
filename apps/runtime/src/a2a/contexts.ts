import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, errorText, writeFileAtomic } from "@molecule/internal";
import { createContextSessionStore, type SessionStore } from "@molecule/session";
import * as z from "zod";
import type { Logger } from "../logger.js";

const StoredDefault = z.object({ version: z.literal(1), contextId: z.string().min(1).max(256) });

/**
 * The workspace's conversations: the default context (one persisted id: messages without a
 * contextId — the platform's, `molecule dev`'s — belong to it, and it keeps the one remembered
 * session of `<state>/session.json`) and the callers' own contexts, each with its session in
 * `<state>/contexts.json` (LRU-bounded by `sessions.max_contexts`). @internal
 */
export interface Conversations {
  /** The default context's id (created and persisted on first use). */
  defaultId(): Promise<string>;
  /** Where a context's session lives; `undefined` for the default context (the executor's own store). */
  sessionFor(contextId: string, defaultId: string): SessionStore | undefined;
}

export function createConversations(options: { stateDir: string; maxContexts: number; log: Logger }): Conversations {
  const file = join(options.stateDir, "default-context.json");
  const store = createContextSessionStore({
    file: join(options.stateDir, "contexts.json"),
    maxContexts: options.maxContexts,
    logger: options.log,
  });
  let loading: Promise<string> | undefined;

  async function load(): Promise<string> {
    try {
      const parsed = StoredDefault.safeParse(JSON.parse(await readFile(file, "utf8")));
      if (parsed.success) return parsed.data.contextId;
      options.log.warn(
        { event: "a2a.default_context_corrupt", file },
        "the default context file is unreadable; starting a new default context",
      );
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") {
        options.log.warn(
          { event: "a2a.default_context_corrupt", file, err: errorText(error) },
          "the default context file is unreadable; starting a new default context",
        );
      }
    }
    const contextId = randomUUID();
    try {
      await writeFileAtomic(file, `${JSON.stringify({ version: 1, contextId })}\n`);
    } catch (error) {
      // Still usable for this run; a restart gives the default conversation a new id (its session stays).
      options.log.warn(
        {
          event: "a2a.default_context_write_failed",
          file,
          err: errorText(error),
        },
        "could not persist the default context id; check that the state dir is writable",
      );
    }
    return contextId;
  }

  return {
    defaultId() {
      loading ??= load();
      return loading;
    },
    sessionFor: (contextId, defaultId) => (contextId === defaultId ? undefined : store.forContext(contextId)),
  };
}
