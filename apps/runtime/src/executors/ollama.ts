import { errorText } from "@molecule/internal";
import type { Executor, TurnReply, TurnRequest } from "../executor.js";
import type { Logger } from "../logger.js";
import { type ChatMessageIn, type ChatVerdict, postChat } from "./chat-completions.js";
import { createChatHistoryStore } from "./chat-history.js";

// runtime: ollama — a local model (Ollama by default; vLLM, llama.cpp's server, LM Studio or a
// gateway alike) behind an OpenAI-compatible `POST {base_url}/chat/completions`. There is no CLI and
// no session to resume: the daemon keeps each context's history (chat-history.ts) and sends it with
// the prompt files as the system message on every turn.

/** The context whose history a turn without a `contextId` uses (the A2A service always passes one). */
const DEFAULT_CONTEXT = "default";

export interface OllamaExecutorOptions {
  /** `runtime_config.base_url` or the registry's default, ending in `/v1`. */
  baseUrl: string;
  model: string;
  /** Where the conversations are kept: `<stateDir>/conversations/ollama`. */
  historyDir: string;
  /** `runtime_config.max_history_messages` (default 50). */
  maxHistoryMessages?: number | undefined;
  /** `sessions.max_contexts`: conversations kept (default 256). */
  maxConversations?: number | undefined;
  /** The workspace's prompt files, joined: the system message. */
  systemPrompt?: string | undefined;
  /** The daemon's env: `OPENAI_API_KEY`, when set, goes to the endpoint as `Authorization: Bearer`. */
  env: NodeJS.ProcessEnv;
  /** The turn's time limit; 0 = none. */
  timeoutMs: number;
  logger?: Logger | undefined;
  onStateWriteError?: ((what: string, error: unknown, retry: () => Promise<void>) => void) | undefined;
  /** Retries of a 429 / 5xx answer (default 2). */
  rateLimitRetries?: number | undefined;
  /** First backoff of such a retry, unless the server says Retry-After (default 2 000 ms, doubled each time). */
  rateLimitBackoffMs?: number | undefined;
  /** Streamed text is reported as progress at most this often (default 500 ms). */
  progressIntervalMs?: number | undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Streamed pieces become progress notes, batched so a fast model does not send one per token. */
function progressBatcher(turn: TurnRequest, intervalMs: number) {
  let pending = "";
  let last = 0;
  return {
    add(piece: string) {
      pending += piece;
      const now = Date.now();
      if (now - last >= intervalMs && pending.trim() !== "") {
        turn.progress(pending);
        pending = "";
        last = now;
      }
    },
  };
}

/** The turn's reply for a failed request (the caller sees `error`; `detail` goes to the log only). */
function failure(verdict: Exclude<ChatVerdict, { kind: "ok" | "aborted" }>, model: string, baseUrl: string): TurnReply {
  switch (verdict.kind) {
    case "unreachable":
      return {
        outcome: "crash",
        detail: `${baseUrl}: ${verdict.detail}`,
        error: `the model server at ${baseUrl} does not answer; start it, or set runtime_config.base_url to where it listens`,
      };
    case "model-missing":
      return {
        outcome: "agent-error",
        detail: verdict.detail,
        error: `the model server has no model ${model}; run \`ollama pull ${model}\` on it, or set runtime_config.model`,
      };
    case "auth":
      return {
        outcome: "auth",
        detail: `unauthorized: ${verdict.detail}`,
        error: "the model server refused the request (401/403); set OPENAI_API_KEY to the key it expects",
      };
    case "rate-limited":
    case "server-error":
      return { outcome: "rate-limited", detail: verdict.detail };
    case "bad-request":
      return { outcome: "agent-error", detail: verdict.detail, error: "the model server refused the request" };
    case "stream-cut":
      return { outcome: "agent-error", detail: verdict.detail, error: "the model server stopped mid-answer" };
    default:
      return { outcome: "agent-error", detail: "the model answered nothing", error: "the model answered nothing" };
  }
}

/** The executor of `runtime: ollama`. @internal */
export function createOllamaExecutor(options: OllamaExecutorOptions): Executor {
  const log = options.logger;
  const retries = options.rateLimitRetries ?? 2;
  const backoffMs = options.rateLimitBackoffMs ?? 2_000;
  const history = createChatHistoryStore({
    dir: options.historyDir,
    maxMessages: options.maxHistoryMessages,
    maxConversations: options.maxConversations,
    logger: log,
  });
  const system: ChatMessageIn[] = options.systemPrompt ? [{ role: "system", content: options.systemPrompt }] : [];
  const apiKey = options.env.OPENAI_API_KEY?.trim() || undefined;

  async function remember(contextId: string, user: string, answer: string): Promise<void> {
    const exchange = [
      { role: "user" as const, content: user },
      { role: "assistant" as const, content: answer },
    ];
    try {
      await history.append(contextId, exchange);
    } catch (error) {
      if (!options.onStateWriteError) throw error;
      options.onStateWriteError("history", error, () => history.append(contextId, exchange));
    }
  }

  async function runTurn(turn: TurnRequest): Promise<TurnReply> {
    const contextId = turn.contextId ?? DEFAULT_CONTEXT;
    const deadline = new AbortController();
    const timer = options.timeoutMs > 0 ? setTimeout(() => deadline.abort(), options.timeoutMs) : undefined;
    const signal = AbortSignal.any([turn.signal, deadline.signal]);
    const ended = (): TurnReply | undefined =>
      turn.signal.aborted ? { outcome: "cancelled" } : deadline.signal.aborted ? { outcome: "timeout" } : undefined;
    try {
      const past = await history.read(contextId);
      const messages: ChatMessageIn[] = [...system, ...past, { role: "user", content: turn.text }];
      let attempt = 0;
      for (;;) {
        const t0 = Date.now();
        const batch = progressBatcher(turn, options.progressIntervalMs ?? 500);
        const verdict = await postChat({
          baseUrl: options.baseUrl,
          model: options.model,
          messages,
          apiKey,
          signal,
          onDelta: (piece) => batch.add(piece),
        });
        log?.debug?.(
          { event: "turn.run", taskId: turn.taskId, verdict: verdict.kind, ms: Date.now() - t0, history: past.length },
          "chat request finished",
        );
        if (verdict.kind === "aborted") return ended() ?? { outcome: "cancelled" };
        if (verdict.kind === "ok") {
          const text = verdict.text.trim();
          await remember(contextId, turn.text, text);
          // The usage goes to the turn's log line (turn.finished) and molecule_model_tokens_total.
          return { outcome: "ok", text, ...(verdict.usage ? { usage: verdict.usage } : {}) };
        }
        const retryable = verdict.kind === "rate-limited" || verdict.kind === "server-error";
        if (retryable && attempt < retries) {
          attempt += 1;
          const wait = verdict.retryAfterMs ?? backoffMs * 2 ** (attempt - 1);
          turn.progress(
            `model server busy (${verdict.detail.slice(0, 80)}), retry ${attempt}/${retries} in ${Math.round(wait / 1000)} s`,
          );
          await sleep(wait, signal);
          const stop = ended();
          if (stop) return stop;
          continue;
        }
        return failure(verdict, options.model, options.baseUrl);
      }
    } catch (error) {
      return ended() ?? { outcome: "crash", detail: errorText(error) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  return { name: "ollama", runTurn };
}
