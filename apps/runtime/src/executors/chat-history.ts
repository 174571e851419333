import { createHash } from "node:crypto";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, errorText, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import type { Logger } from "../logger.js";

/** One message of a conversation, as an OpenAI-compatible chat endpoint takes it. @internal */
export interface ChatTurnMessage {
  role: "user" | "assistant";
  content: string;
}

/** The conversations kept when no bound is given (`sessions.max_contexts`' default). @internal */
export const DEFAULT_MAX_CONVERSATIONS = 256;

/** The messages a conversation keeps when `runtime_config.max_history_messages` is unset. @internal */
export const DEFAULT_MAX_HISTORY_MESSAGES = 50;

const StoredHistory = z.object({
  version: z.literal(1),
  contextId: z.string(),
  messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.string() })),
});

/**
 * The conversations the daemon keeps itself (for an agent without sessions of its own): one file
 * per context, `<dir>/<sha256 of the context id>.json` (0600, written atomically: temp file + rename),
 * so a restart keeps every conversation. Beyond `maxConversations` files the least recently written
 * are deleted. @internal
 */
export interface ChatHistoryStore {
  /** The context's messages, oldest first ([] for a new context, or a file that is unreadable: logged). */
  read(contextId: string): Promise<ChatTurnMessage[]>;
  /** Appends one exchange, keeping the newest `maxMessages` (oldest dropped first, never starting on an answer). */
  append(contextId: string, exchange: readonly ChatTurnMessage[]): Promise<void>;
}

/** The newest `max` messages, starting on a user message. @internal */
export function trimHistory(messages: readonly ChatTurnMessage[], max: number): ChatTurnMessage[] {
  const kept = messages.slice(Math.max(0, messages.length - max));
  while (kept.length > 0 && kept[0]?.role !== "user") kept.shift();
  return kept;
}

export function createChatHistoryStore(options: {
  dir: string;
  maxMessages?: number | undefined;
  /** `sessions.max_contexts`: conversations kept, the least recently written forgotten (default 256). */
  maxConversations?: number | undefined;
  logger?: Logger | undefined;
}): ChatHistoryStore {
  const max = options.maxMessages ?? DEFAULT_MAX_HISTORY_MESSAGES;
  const maxConversations = options.maxConversations ?? DEFAULT_MAX_CONVERSATIONS;

  /** Deletes the least recently written conversations beyond the bound (never fails the turn). */
  async function prune(): Promise<void> {
    const names = (await readdir(options.dir)).filter((name) => /^[0-9a-f]{32}\.json$/.test(name));
    if (names.length <= maxConversations) return;
    const dated = await Promise.all(
      names.map(async (name) => {
        const file = join(options.dir, name);
        return {
          file,
          at: await stat(file).then(
            (s) => s.mtimeMs,
            () => 0,
          ),
        };
      }),
    );
    dated.sort((a, b) => a.at - b.at);
    const gone = dated.slice(0, dated.length - maxConversations);
    await Promise.all(gone.map(({ file }) => rm(file, { force: true })));
    options.logger?.info(
      { event: "history.pruned", forgotten: gone.length, kept: maxConversations },
      "forgot the least recently used conversations beyond sessions.max_contexts",
    );
  }
  const fileOf = (contextId: string) =>
    join(options.dir, `${createHash("sha256").update(contextId).digest("hex").slice(0, 32)}.json`);

  async function read(contextId: string): Promise<ChatTurnMessage[]> {
    const file = fileOf(contextId);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return [];
      options.logger?.warn(
        { event: "history.unreadable", file, error: errorText(error) },
        "conversation history unreadable; this turn starts without it",
      );
      return [];
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = StoredHistory.safeParse(json);
    if (!parsed.success || parsed.data.contextId !== contextId) {
      options.logger?.warn(
        { event: "history.corrupt", file },
        "conversation history is not a history of this context; this turn starts without it (the next answer rewrites it)",
      );
      return [];
    }
    return parsed.data.messages;
  }

  return {
    read,
    async append(contextId, exchange) {
      const messages = trimHistory([...(await read(contextId)), ...exchange], max);
      await writeFileAtomic(fileOf(contextId), `${JSON.stringify({ version: 1, contextId, messages })}\n`);
      await prune().catch((error: unknown) =>
        options.logger?.warn(
          { event: "history.prune_failed", error: errorText(error) },
          "could not prune old conversations",
        ),
      );
    },
  };
}
