import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  estimateTokens,
  field,
  halves,
  maskedHeaders,
  modeState,
  type ResolvedMode,
  startLoopback,
} from "./fake-api-common.js";
import { parseJson, readBody, sendJson } from "./http-util.js";

/**
 * How `POST /v1/chat/completions` answers (other routes always answer normally):
 * - `ok`: the streamed (SSE `data:` chunks, then `data: [DONE]`) or JSON completion with the reply;
 *   a final usage chunk when the request asks for `stream_options.include_usage`
 * - `empty`: a completion with no content
 * - `model-not-found`: Ollama's 404 `{"error":"model \"<model>\" not found, try pulling it first"}`
 * - `status:<code>[:retry-after=<s>]`: an OpenAI-shaped error body
 * - `hang`, `stall-after-start` (200, the role chunk and the first piece, then nothing), `drop`,
 *   `fail-first:<n>[:<code>]`
 */
export type ChatCompletionsMode =
  | "ok"
  | "empty"
  | "model-not-found"
  | "hang"
  | "stall-after-start"
  | "drop"
  | `status:${number}`
  | `status:${number}:retry-after=${number}`
  | `fail-first:${number}`
  | `fail-first:${number}:${number}`;

/** One message of a chat request's `messages`, its content flattened to text. */
export interface ChatMessage {
  /** "system", "user", "assistant", … */
  readonly role: string;
  /** the text (a content-parts array's text parts joined) */
  readonly content: string;
}

/** One request the fake chat endpoint received. */
export interface ChatCompletionsRequest {
  /** "GET", "POST", … */
  readonly method: string;
  /** the path without the query, e.g. "/v1/chat/completions" */
  readonly path: string;
  /** lower-cased headers; authorization and cookie values are "***" */
  readonly headers: Readonly<Record<string, string>>;
  /** true when an `authorization: Bearer …` header came (its value is never kept) */
  readonly bearer: boolean;
  /** the parsed JSON body, or null */
  readonly body: unknown;
  /** the body's `messages`, in order */
  readonly messages: readonly ChatMessage[];
  /** the body's `model`, or "" */
  readonly model: string;
  /** true for a chat request with `"stream": true` */
  readonly stream: boolean;
  /** the mode that answered a chat request ("" for other routes) */
  readonly mode: string;
  /** Date.now() at arrival */
  readonly at: number;
  /** the status answered; 0 when dropped or still hanging */
  status: number;
}

/** How the fake chat endpoint answers; every field has a default. */
export interface FakeChatCompletionsOptions {
  /** the assistant's text, or a function of the request; default "Hello from the fake chat endpoint." */
  reply?: string | ((request: ChatCompletionsRequest) => string);
  /** default "ok" */
  mode?: ChatCompletionsMode;
  /** the models `GET /v1/models` lists; default ["llama-fake"] */
  models?: readonly string[];
  /** default 0 (any free port) */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
}

/** A running fake chat endpoint. */
export interface FakeChatCompletions {
  /** `http://127.0.0.1:<port>/v1` — the base URL as OpenAI-compatible clients spell it */
  readonly url: string;
  /** every request received, oldest first (a live array) */
  readonly requests: readonly ChatCompletionsRequest[];
  /** `POST /v1/chat/completions` requests only, oldest first */
  completions(): readonly ChatCompletionsRequest[];
  /** changes the mode for the next requests (resets a `fail-first` count) */
  setMode(mode: ChatCompletionsMode): void;
  /** stops listening and ends hanging requests */
  close(): Promise<void>;
}

const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: null, message: "fake: invalid request" },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided (fake)." },
  429: { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for requests (fake)." },
  500: { type: "server_error", code: null, message: "The server had an error while processing your request." },
};

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (typeof field(part, "text") === "string" ? String(field(part, "text")) : ""))
    .join("");
}

function messagesOf(body: unknown): ChatMessage[] {
  const messages = field(body, "messages");
  if (!Array.isArray(messages)) return [];
  return messages
    .filter((m: unknown) => typeof field(m, "role") === "string")
    .map((m: unknown) => ({ role: String(field(m, "role")), content: textOf(field(m, "content")) }));
}

const hex = () => randomBytes(8).toString("hex");
const CHAT = "/v1/chat/completions";

/**
 * Starts a loopback fake of an OpenAI-compatible chat endpoint (Ollama's, vLLM's, llama.cpp's
 * server's): `POST /v1/chat/completions` streamed or not, `GET /v1/models`.
 */
export async function startFakeChatCompletions(options: FakeChatCompletionsOptions = {}): Promise<FakeChatCompletions> {
  const modes = modeState(options.mode ?? "ok", ["model-not-found"], "startFakeChatCompletions");
  const requests: ChatCompletionsRequest[] = [];
  const reply = options.reply ?? "Hello from the fake chat endpoint.";
  const models = [...(options.models ?? ["llama-fake"])];

  const sendError = (res: ServerResponse, status: number, retryAfter?: number) => {
    const headers: Record<string, string> = {};
    if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
    const error = ERRORS[status] ?? { type: "server_error", code: null, message: `fake error ${status}` };
    sendJson(res, status, { error: { ...error, param: null } }, headers);
  };

  const answer = (res: ServerResponse, rec: ChatCompletionsRequest, mode: ResolvedMode) => {
    const text = mode.kind === "empty" ? "" : typeof reply === "function" ? reply(rec) : reply;
    const model = rec.model || "llama-fake";
    const id = `chatcmpl-${hex()}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = estimateTokens(field(rec.body, "messages"));
    const completionTokens = text === "" ? 0 : Math.max(1, Math.ceil(text.length / 4));
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const base = { id, created, model, system_fingerprint: "fp_fake" };
    if (!rec.stream) {
      if (mode.kind === "stall-after-start") return; // a JSON answer cannot stall half-way: it hangs
      sendJson(res, 200, {
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage,
      });
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      res.write(
        `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      );
    const pieces = halves(text);
    chunk({ role: "assistant", content: "" }, null);
    if (mode.kind === "stall-after-start") {
      if (pieces[0] !== undefined) chunk({ content: pieces[0] }, null);
      return;
    }
    for (const piece of pieces) chunk({ content: piece }, null);
    chunk({}, "stop");
    if (field(field(rec.body, "stream_options"), "include_usage") === true) {
      res.write(`data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [], usage })}\n\n`);
    }
    res.write("data: [DONE]\n\n");
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const raw = await readBody(req, 32 * 1_048_576);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const method = req.method ?? "GET";
    const isChat = method === "POST" && url.pathname === CHAT;
    const next = isChat ? modes.next() : undefined;
    const model = field(body, "model");
    const rec: ChatCompletionsRequest = {
      method,
      path: url.pathname,
      headers: maskedHeaders(req),
      bearer: /^bearer \S/i.test(req.headers.authorization ?? ""),
      body,
      messages: messagesOf(body),
      model: typeof model === "string" ? model : "",
      stream: isChat && field(body, "stream") === true,
      mode: next?.name ?? "",
      at: Date.now(),
      status: 0,
    };
    requests.push(rec);
    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (method === "HEAD" || (method === "GET" && url.pathname === "/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(method === "HEAD" ? undefined : "Ollama is running (fake)");
      return;
    }
    if (method === "GET" && url.pathname === "/v1/models") {
      sendJson(res, 200, {
        object: "list",
        data: models.map((id) => ({ id, object: "model", created: 1_735_689_600, owned_by: "library" })),
      });
      return;
    }
    if (!next) {
      sendError(res, 404);
      return;
    }
    if (raw === undefined || body === null) {
      sendError(res, raw === undefined ? 413 : 400);
      return;
    }
    const mode = next.resolved;
    if (mode.status !== undefined) {
      sendError(res, mode.status, mode.retryAfter);
      return;
    }
    switch (mode.kind) {
      case "hang":
        return;
      case "drop":
        req.socket.destroy();
        return;
      case "model-not-found":
        sendJson(res, 404, { error: `model "${rec.model}" not found, try pulling it first` });
        return;
      default:
        answer(res, rec, mode);
    }
  };

  const server = await startLoopback(handle, (res) => sendError(res, 500), options);
  return {
    url: `${server.origin}/v1`,
    requests,
    completions: () => requests.filter((r) => r.method === "POST" && r.path === CHAT),
    setMode: (mode) => modes.set(mode),
    close: () => server.close(),
  };
}
