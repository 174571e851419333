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
 * How `POST /v1/responses` answers (other routes always answer normally):
 * - `ok`: the streamed (SSE) or JSON response with the reply, `response.completed` carrying `usage`
 * - `empty`: `response.created` then `response.completed` with no output item
 * - `status:<code>[:retry-after=<s>]`: an OpenAI error body (401 `invalid_api_key`, 429 `rate_limit_exceeded`, …)
 * - `quota`: 429 `insufficient_quota`
 * - `context-full`: `response.created` then `response.failed` with `context_length_exceeded`
 * - `hang`, `stall-after-start` (`response.created` + `response.in_progress`, then nothing), `drop`, `fail-first:<n>[:<code>]`
 */
export type ResponsesApiMode =
  | "ok"
  | "empty"
  | "quota"
  | "context-full"
  | "hang"
  | "stall-after-start"
  | "drop"
  | `status:${number}`
  | `status:${number}:retry-after=${number}`
  | `fail-first:${number}`
  | `fail-first:${number}:${number}`;

/** One message of a Responses `input` (or of the reply), flattened to its text. */
export interface ResponsesApiMessage {
  /** "user", "assistant", "developer" or "system" */
  readonly role: string;
  /** the text parts joined */
  readonly text: string;
}

/** A tool call the fake model makes: the agent runs the tool and sends its output in the next request. */
export interface ResponsesToolCall {
  /** the tool's name as the agent offered it, e.g. Codex's `exec` (custom) or an MCP tool */
  name: string;
  /** `custom_tool_call`: the raw input text; `function_call`: the arguments (sent as a JSON string) */
  input: string | Record<string, unknown>;
  /** default "function_call" (a string `input` is then sent as is); Codex 0.169.0 offers its shell as the custom tool `exec` */
  type?: "function_call" | "custom_tool_call";
  /** the call's `call_id`; default `call_fake_<random>` */
  callId?: string;
}

/** What the fake model answers: a text, or any of a reasoning summary (first), a text and a tool call (last). */
export type ResponsesReply = string | { reasoning?: string; text?: string; toolCall?: ResponsesToolCall };

/** A tool's output as the agent sent it back (`function_call_output` / `custom_tool_call_output` items). */
export interface ResponsesToolOutput {
  readonly callId: string;
  /** the output as text (a list of content parts joined) */
  readonly output: string;
}

/** One request the fake OpenAI Responses API received. */
export interface ResponsesApiRequest {
  readonly method: string;
  /** the path without the query, e.g. "/v1/responses" */
  readonly path: string;
  /** the query string including "?", or "" */
  readonly query: string;
  /** lower-cased headers; authorization, x-api-key and cookie values are "***" */
  readonly headers: Readonly<Record<string, string>>;
  /** the parsed JSON body, or null */
  readonly body: unknown;
  /** the `message` items of the body's `input`, in order (turn 2 carries turn 1's user and assistant messages) */
  readonly messages: readonly ResponsesApiMessage[];
  /** the tool outputs in the body's `input`, in order (a request after a tool call carries its output) */
  readonly toolOutputs: readonly ResponsesToolOutput[];
  /** Date.now() at arrival */
  readonly at: number;
  /** true for a `POST /v1/responses` with `"stream": true` */
  readonly stream: boolean;
  /** the mode that answered a `POST /v1/responses` ("" for other routes) */
  readonly mode: string;
  /** the status answered; 0 when dropped or still hanging */
  status: number;
  /** the `usage` the answer reported (its `response.completed`), when it answered with one */
  usage?: { input_tokens: number; output_tokens: number };
}

export interface FakeOpenAiResponsesOptions {
  /** the assistant's text, or a function of the request returning a reply (e.g. a tool call, then a text); a default text */
  reply?: string | ((request: ResponsesApiRequest) => ResponsesReply);
  /** default "ok" */
  mode?: ResponsesApiMode;
  /** default 0 (any free port) */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
}

export interface FakeOpenAiResponses {
  /** `http://127.0.0.1:<port>/v1` — the base URL as OpenAI clients spell it (Codex's `model_providers.<id>.base_url`) */
  readonly url: string;
  /** every request received, oldest first (a live array) */
  readonly requests: readonly ResponsesApiRequest[];
  /** `POST /v1/responses` requests only, oldest first */
  responses(): readonly ResponsesApiRequest[];
  /** changes the mode for the next requests (resets a `fail-first` count) */
  setMode(mode: ResponsesApiMode): void;
  close(): Promise<void>;
}

const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: null, message: "fake: invalid request" },
  401: {
    type: "invalid_request_error",
    code: "invalid_api_key",
    message:
      "Incorrect API key provided: fake. You can find your API key at https://platform.openai.com/account/api-keys.",
  },
  403: { type: "invalid_request_error", code: "unsupported_country_region_territory", message: "fake: forbidden" },
  404: {
    type: "invalid_request_error",
    code: "model_not_found",
    message: "The model `fake-missing` does not exist or you do not have access to it.",
  },
  429: { type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for requests (fake)." },
  500: {
    type: "server_error",
    code: null,
    message: "The server had an error while processing your request. Sorry about that!",
  },
};

const QUOTA = {
  type: "insufficient_quota",
  code: "insufficient_quota",
  message: "You exceeded your current quota, please check your plan and billing details.",
};

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (typeof field(part, "text") === "string" ? String(field(part, "text")) : ""))
    .join("");
}

function inputMessages(body: unknown): ResponsesApiMessage[] {
  const input = field(body, "input");
  if (typeof input === "string") return [{ role: "user", text: input }];
  if (!Array.isArray(input)) return [];
  return input
    .filter((item: unknown) => {
      const type = field(item, "type");
      return (type === "message" || type === undefined) && typeof field(item, "role") === "string";
    })
    .map((item: unknown) => ({ role: String(field(item, "role")), text: textOf(field(item, "content")) }));
}

function toolOutputs(body: unknown): ResponsesToolOutput[] {
  const input = field(body, "input");
  if (!Array.isArray(input)) return [];
  return input
    .filter((item: unknown) => {
      const type = field(item, "type");
      return type === "function_call_output" || type === "custom_tool_call_output";
    })
    .map((item: unknown) => {
      const output = field(item, "output");
      return {
        callId: String(field(item, "call_id") ?? ""),
        output: typeof output === "string" ? output : textOf(output) || JSON.stringify(output ?? ""),
      };
    });
}

const hex = () => randomBytes(8).toString("hex");

/** The output item of a tool call, in the Responses API's shape. */
function toolCallItem(call: ResponsesToolCall): Record<string, unknown> {
  const callId = call.callId ?? `call_fake_${hex()}`;
  if (call.type === "custom_tool_call") {
    const input = typeof call.input === "string" ? call.input : JSON.stringify(call.input);
    return {
      id: `ctc_fake_${hex()}`,
      type: "custom_tool_call",
      status: "completed",
      call_id: callId,
      name: call.name,
      input,
    };
  }
  const args = typeof call.input === "string" ? call.input : JSON.stringify(call.input);
  return {
    id: `fc_fake_${hex()}`,
    type: "function_call",
    status: "completed",
    call_id: callId,
    name: call.name,
    arguments: args,
  };
}

/**
 * Starts a loopback fake of the OpenAI Responses API (`POST /v1/responses`, SSE), good enough for the real
 * Codex CLI behind a custom provider (`wire_api = "responses"`); `GET /v1/models` answers one model.
 */
export async function startFakeOpenAiResponses(options: FakeOpenAiResponsesOptions = {}): Promise<FakeOpenAiResponses> {
  const modes = modeState(options.mode ?? "ok", ["quota", "context-full"], "startFakeOpenAiResponses");
  const requests: ResponsesApiRequest[] = [];
  const reply = options.reply ?? "Hello from the fake OpenAI Responses API.";

  const sendError = (res: ServerResponse, status: number, retryAfter?: number, quota = false) => {
    const headers: Record<string, string> = { "x-request-id": `req_fake_${hex()}` };
    if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
    const error = quota
      ? QUOTA
      : (ERRORS[status] ?? { type: "server_error", code: null, message: `fake error ${status}` });
    sendJson(res, status, { error: { ...error, param: null } }, headers);
  };

  const answer = (res: ServerResponse, rec: ResponsesApiRequest, mode: ResolvedMode) => {
    const answered: ResponsesReply = mode.kind === "empty" ? "" : typeof reply === "function" ? reply(rec) : reply;
    const text = typeof answered === "string" ? answered : (answered.text ?? "");
    const call = typeof answered === "string" || !answered.toolCall ? undefined : toolCallItem(answered.toolCall);
    const thought = typeof answered === "string" ? undefined : answered.reasoning;
    const reasoning = thought
      ? { id: `rs_fake_${hex()}`, type: "reasoning", summary: [{ type: "summary_text", text: thought }] }
      : undefined;
    const model = typeof field(rec.body, "model") === "string" ? String(field(rec.body, "model")) : "gpt-fake";
    const id = `resp_fake_${hex()}`;
    const itemId = `msg_fake_${hex()}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const inputTokens = estimateTokens(field(rec.body, "input"));
    const produced = text.length + (call ? JSON.stringify(call).length : 0) + (thought?.length ?? 0);
    const outputTokens = produced === 0 ? 0 : Math.max(1, Math.ceil(produced / 4));
    const part = { type: "output_text", text, annotations: [] };
    const item = { id: itemId, type: "message", status: "completed", role: "assistant", content: [part] };
    const withText = mode.kind !== "empty" && !((call || reasoning) && text === "");
    const output: Record<string, unknown>[] = [...(reasoning ? [reasoning] : []), ...(withText ? [item] : [])];
    if (call) output.push(call);
    const usage = {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens,
    };
    const base = { id, object: "response", created_at: createdAt, model };
    if (!rec.stream) {
      if (mode.kind === "stall-after-start") return; // a JSON answer cannot stall half-way: it hangs
      if (mode.kind === "context-full") {
        sendJson(res, 400, {
          error: {
            type: "invalid_request_error",
            code: "context_length_exceeded",
            message: "fake: context full",
            param: "input",
          },
        });
        return;
      }
      rec.usage = { input_tokens: inputTokens, output_tokens: outputTokens };
      sendJson(res, 200, { ...base, status: "completed", output, usage }, { "x-request-id": `req_fake_${hex()}` });
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-request-id": `req_fake_${hex()}`,
    });
    let seq = 0;
    const sse = (type: string, data: Record<string, unknown>) => {
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
    };
    const inProgress = { ...base, status: "in_progress", output: [] };
    sse("response.created", { response: inProgress });
    if (mode.kind === "context-full") {
      sse("response.failed", {
        response: {
          ...base,
          status: "failed",
          output: [],
          error: { code: "context_length_exceeded", message: "Your input exceeds the context window of this model." },
        },
      });
      res.end();
      return;
    }
    sse("response.in_progress", { response: inProgress });
    if (mode.kind === "stall-after-start") return;
    if (reasoning) {
      sse("response.output_item.added", { output_index: 0, item: { ...reasoning, summary: [] } });
      sse("response.output_item.done", { output_index: 0, item: reasoning });
    }
    if (withText) {
      const index = reasoning ? 1 : 0;
      const at = { item_id: itemId, output_index: index, content_index: 0 };
      sse("response.output_item.added", {
        output_index: index,
        item: { ...item, status: "in_progress", content: [] },
      });
      sse("response.content_part.added", { ...at, part: { ...part, text: "" } });
      for (const delta of halves(text)) sse("response.output_text.delta", { ...at, delta });
      sse("response.output_text.done", { ...at, text });
      sse("response.content_part.done", { ...at, part });
      sse("response.output_item.done", { output_index: index, item });
    }
    if (call) {
      const index = output.length - 1;
      sse("response.output_item.added", { output_index: index, item: { ...call, status: "in_progress" } });
      sse("response.output_item.done", { output_index: index, item: call });
    }
    rec.usage = { input_tokens: inputTokens, output_tokens: outputTokens };
    sse("response.completed", { response: { ...base, status: "completed", output, usage } });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const raw = await readBody(req, 32 * 1_048_576);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const method = req.method ?? "GET";
    const isResponses = method === "POST" && url.pathname === "/v1/responses";
    const next = isResponses ? modes.next() : undefined;
    const rec: ResponsesApiRequest = {
      method,
      path: url.pathname,
      query: url.search,
      headers: maskedHeaders(req),
      body,
      messages: inputMessages(body),
      toolOutputs: toolOutputs(body),
      at: Date.now(),
      stream: isResponses && field(body, "stream") === true,
      mode: next?.name ?? "",
      status: 0,
    };
    requests.push(rec);
    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (method === "HEAD" || (method === "GET" && url.pathname === "/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(method === "HEAD" ? undefined : "fake openai responses api");
      return;
    }
    if (method === "GET" && url.pathname === "/v1/models") {
      // both the OpenAI list shape (`data`) and Codex's own models endpoint shape (`models`)
      sendJson(res, 200, {
        object: "list",
        data: [{ id: "gpt-fake", object: "model", created: 1_735_689_600, owned_by: "fake" }],
        models: [],
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
      case "quota":
        sendError(res, 429, undefined, true);
        return;
      default:
        answer(res, rec, mode);
    }
  };

  const server = await startLoopback(handle, (res) => sendError(res, 500), options);
  return {
    url: `${server.origin}/v1`,
    requests,
    responses: () => requests.filter((r) => r.method === "POST" && r.path === "/v1/responses"),
    setMode: (mode) => modes.set(mode),
    close: () => server.close(),
  };
}
