import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, errorText, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import type { Logger } from "../logger.js";

/** One message of a conversation, as an OpenAI-compatible chat endpoint takes it. @internal */
export interface ChatTurnMessage {
  role: "user" | "assistant";
  content: string;
}

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
 * so a restart keeps every conversation. @internal
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
  logger?: Logger | undefined;
}): ChatHistoryStore {
  const max = options.maxMessages ?? DEFAULT_MAX_HISTORY_MESSAGES;
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
    },
  };
}
