import { errnoCode } from "@molecule/internal";
import { request } from "undici";
import * as z from "zod";

// One request to an OpenAI-compatible chat endpoint (Ollama's /v1, vLLM, llama.cpp's server, LM
// Studio, a gateway): `POST {base_url}/chat/completions` with `"stream": true` and
// `stream_options.include_usage`, read as SSE: `data: {"choices":[{"delta":{"content":"…"}}]}` lines,
// a usage chunk (`"choices":[]`), then `data: [DONE]`. Errors answer JSON: OpenAI's
// `{"error":{"message":…}}`, or Ollama's `{"error":"model \"x\" not found, try pulling it first"}` (404).

/** One message of the request. @internal */
export interface ChatMessageIn {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Token counts with the other agents' field names (`input_tokens` from `prompt_tokens`, …). @internal */
export interface ChatUsage {
  input_tokens: number;
  output_tokens: number;
  /** The model that answered, as the response names it (else the one requested). */
  model?: string;
}

/** How one request ended. @internal */
export type ChatVerdict =
  | { kind: "ok"; text: string; usage?: ChatUsage }
  | { kind: "unreachable"; detail: string }
  | { kind: "model-missing"; detail: string }
  | { kind: "auth"; detail: string }
  | { kind: "rate-limited"; detail: string; retryAfterMs?: number }
  | { kind: "server-error"; detail: string; retryAfterMs?: number }
  | { kind: "bad-request"; detail: string }
  | { kind: "stream-cut"; detail: string }
  | { kind: "empty" }
  | { kind: "aborted" };

export interface ChatRequest {
  /** `…/v1`, no trailing slash. */
  baseUrl: string;
  model: string;
  messages: readonly ChatMessageIn[];
  /** Sent as `Authorization: Bearer` when set (a gateway's key). */
  apiKey?: string | undefined;
  signal: AbortSignal;
  /** Each piece of the answer as it streams in. */
  onDelta?(text: string): void;
}

const Chunk = z
  .object({
    choices: z
      .array(
        z
          .object({
            delta: z.object({ content: z.string().nullish() }).loose().nullish(),
            message: z.object({ content: z.string().nullish() }).loose().nullish(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .nullish(),
    usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).loose().nullish(),
    model: z.string().min(1).nullish().catch(undefined),
  })
  .loose();

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);
const MODEL_MISSING = /model ["'`]?([^"'`]+?)["'`]? not found|does not exist/i;

/** The error text of an error body (OpenAI's `error.message`, Ollama's `error` string), one line, bounded. */
function errorMessage(body: string): string {
  let text = body;
  try {
    const json = JSON.parse(body) as { error?: unknown; message?: unknown };
    const error = json.error;
    if (typeof error === "string") text = error;
    else if (
      typeof error === "object" &&
      error !== null &&
      typeof (error as { message?: unknown }).message === "string"
    )
      text = (error as { message: string }).message;
    else if (typeof json.message === "string") text = json.message;
  } catch {
    // not JSON: the body as it is
  }
  return text.replace(/\s+/g, " ").trim().slice(0, 500);
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.round(Number(value) * 1000);
}

/** Classifies an HTTP error status and its body. @internal */
export function classifyStatus(status: number, body: string, retryAfter?: number): ChatVerdict {
  const message = errorMessage(body);
  const detail = `HTTP ${status}${message ? `: ${message}` : ""}`;
  const after = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
  if (status === 401 || status === 403) return { kind: "auth", detail };
  if (status === 429) return { kind: "rate-limited", detail, ...after };
  if (status === 404 && MODEL_MISSING.test(message)) return { kind: "model-missing", detail };
  if (status >= 500) return { kind: "server-error", detail, ...after };
  return { kind: "bad-request", detail };
}

/** Reads the SSE body: the answer, the usage, whether it ended properly. @internal */
export function createSseReader(onDelta?: (text: string) => void) {
  let buffer = "";
  let text = "";
  let usage: ChatUsage | undefined;
  let model: string | undefined;
  let done = false;
  let finished = false;
  const line = (raw: string) => {
    const trimmed = raw.trim();
    if (!trimmed.startsWith("data:")) return;
    const data = trimmed.slice(5).trim();
    if (data === "[DONE]") {
      done = true;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const chunk = Chunk.safeParse(json);
    if (!chunk.success) return;
    for (const choice of chunk.data.choices ?? []) {
      const piece = choice.delta?.content ?? choice.message?.content ?? "";
      if (piece) {
        text += piece;
        onDelta?.(piece);
      }
      if (choice.finish_reason) finished = true;
    }
    if (chunk.data.model) model = chunk.data.model;
    const u = chunk.data.usage;
    if (u) usage = { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens };
  };
  return {
    push(chunk: string) {
      buffer += chunk;
      let at = buffer.indexOf("\n");
      while (at >= 0) {
        line(buffer.slice(0, at));
        buffer = buffer.slice(at + 1);
        at = buffer.indexOf("\n");
      }
    },
    end() {
      if (buffer) line(buffer);
      buffer = "";
    },
    /** The answer, and whether the stream said it was complete (`[DONE]` or a finish_reason). */
    result: () => ({ text, usage: usage && model ? { ...usage, model } : usage, complete: done || finished }),
  };
}

function failureOf(error: unknown, signal: AbortSignal, streaming: boolean): ChatVerdict {
  if (signal.aborted) return { kind: "aborted" };
  const code = errnoCode(error) ?? (error as { code?: unknown }).code;
  const causeCode = errnoCode((error as { cause?: unknown }).cause);
  const message = error instanceof Error ? error.message : String(error);
  const name = typeof code === "string" ? code : (causeCode ?? "");
  if (!streaming && (UNREACHABLE.has(name) || (causeCode !== undefined && UNREACHABLE.has(causeCode))))
    return { kind: "unreachable", detail: `${name}: ${message}` };
  if (streaming) return { kind: "stream-cut", detail: `the stream ended mid-answer (${name || message})` };
  return { kind: "stream-cut", detail: `the connection closed before an answer (${name || message})` };
}

/**
 * Posts one chat request and streams the answer. Never throws: every ending is a verdict
 * (`aborted` when `signal` ends it, whoever aborted).
 */
export async function postChat(req: ChatRequest): Promise<ChatVerdict> {
  let streaming = false;
  try {
    const res = await request(`${req.baseUrl}/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...(req.apiKey ? { authorization: `Bearer ${req.apiKey}` } : {}),
      },
      body: JSON.stringify({
        model: req.model,
        messages: req.messages,
        stream: true,
        stream_options: { include_usage: true },
      }),
      signal: req.signal,
      // The turn's deadline (the signal) bounds the wait; a local model may think for minutes.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    if (res.statusCode !== 200) {
      const body = await res.body.text().catch(() => "");
      return classifyStatus(res.statusCode, body, retryAfterMs(res.headers["retry-after"]));
    }
    streaming = true;
    const reader = createSseReader(req.onDelta);
    res.body.setEncoding("utf8");
    for await (const chunk of res.body) reader.push(chunk as string);
    reader.end();
    const { text, usage, complete } = reader.result();
    if (!complete) return { kind: "stream-cut", detail: "the stream ended without [DONE] or a finish reason" };
    if (text.trim() === "") return { kind: "empty" };
    return { kind: "ok", text, ...(usage ? { usage: { ...usage, model: usage.model ?? req.model } } : {}) };
  } catch (error) {
    return failureOf(error, req.signal, streaming);
  }
}
