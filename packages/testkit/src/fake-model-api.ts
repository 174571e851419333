import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { estimateTokens, field, maskedHeaders, modeState, startLoopback } from "./fake-api-common.js";
import { createBarriers, type ModelApiBarrier, type ModelApiBarrierOptions } from "./fake-model-barrier.js";
import { answerBlocks, blockEvents, blockLength, type FakeModelReply } from "./fake-model-tools.js";
import { parseJson, readBody, sendJson } from "./http-util.js";

/**
 * How `POST /v1/messages` answers (other routes always answer normally):
 * - `ok`: a streamed (SSE) or JSON message with the reply
 * - `empty`: a successful message whose text is empty (the agent's turn ends with no answer)
 * - `status:<code>` or `status:<code>:retry-after=<s>`: an Anthropic error body with that HTTP status
 * - `hang`: never answers (until `close()`)
 * - `stall-after-start`: 200, `message_start` and `content_block_start`, then nothing (JSON requests hang)
 * - `drop`: resets the connection without an answer
 * - `fail-first:<n>` or `fail-first:<n>:<code>`: the next n requests fail with `<code>` (default 529), then `ok`
 */
export type ModelApiMode =
  | "ok"
  | "empty"
  | "hang"
  | "stall-after-start"
  | "drop"
  | `status:${number}`
  | `status:${number}:retry-after=${number}`
  | `fail-first:${number}`
  | `fail-first:${number}:${number}`;

/** One request the fake model API received. */
export interface ModelApiRequest {
  readonly method: string;
  /** the path without the query, e.g. "/v1/messages" */
  readonly path: string;
  /** the query string including "?", or "" */
  readonly query: string;
  /** lower-cased headers; x-api-key, authorization, proxy-authorization and cookie values are "***" */
  readonly headers: Readonly<Record<string, string>>;
  /** the parsed JSON body, or null */
  readonly body: unknown;
  /** Date.now() at arrival */
  readonly at: number;
  /** true for a `POST /v1/messages` with `"stream": true` */
  readonly stream: boolean;
  /** the mode that answered a `POST /v1/messages` ("" for other routes) */
  readonly mode: string;
  /** the status answered; 0 when dropped or still hanging */
  status: number;
  /** the token usage the answer reported (a successful `POST /v1/messages` only): sum them to check an agent's usage */
  usage?: ModelApiUsage;
}

/** The token usage an answer reports, as the Messages API names it. */
export interface ModelApiUsage {
  /** the request's `messages` estimated at 4 characters a token */
  readonly input_tokens: number;
  /** the answer's blocks estimated at 4 characters a token (at least 1) */
  readonly output_tokens: number;
  /** always 0: the fake has no prompt cache */
  readonly cache_creation_input_tokens: number;
  /** always 0: the fake has no prompt cache */
  readonly cache_read_input_tokens: number;
}

export interface FakeModelApiOptions {
  /**
   * the assistant's text, or a tool call (`{ toolUse: { name, input } }`: the agent runs the tool and
   * sends its result in the next request — see `lastToolResult`), or a function of the request
   * returning either; default "Hello from the fake model API."
   */
  reply?: FakeModelReply | ((request: ModelApiRequest) => FakeModelReply);
  /** default "ok" */
  mode?: ModelApiMode;
  /** default 0 (any free port) */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
}

export interface FakeModelApi {
  /** `http://127.0.0.1:<port>` — use it as ANTHROPIC_BASE_URL */
  readonly url: string;
  /** every request received, oldest first (a live array) */
  readonly requests: readonly ModelApiRequest[];
  /** `POST /v1/messages` requests only, oldest first */
  messages(): readonly ModelApiRequest[];
  /** changes the mode for the next requests (resets a `fail-first` count) */
  setMode(mode: ModelApiMode): void;
  /** holds the next matching `POST /v1/messages` requests until `count` have arrived, then answers them all */
  barrier(options: ModelApiBarrierOptions): ModelApiBarrier;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "api_error",
  529: "overloaded_error",
};

const ERROR_MESSAGES: Record<number, string> = {
  401: "invalid x-api-key",
  403: "Your API key does not have permission to use the specified resource.",
  429: "Number of request tokens has exceeded your per-minute rate limit",
  500: "Internal server error",
  529: "Overloaded",
};

/** Starts a loopback fake of the Anthropic Messages API, good enough for the real Claude Code CLI. */
export async function startFakeModelApi(options: FakeModelApiOptions = {}): Promise<FakeModelApi> {
  const modes = modeState(options.mode ?? "ok", [], "startFakeModelApi", 529);
  const requests: ModelApiRequest[] = [];
  const barriers = createBarriers();
  const reply = options.reply ?? "Hello from the fake model API.";

  const sendError = (res: ServerResponse, status: number, retryAfter?: number) => {
    const requestId = `req_fake_${randomBytes(8).toString("hex")}`;
    const headers: Record<string, string> = {
      "request-id": requestId,
      "x-should-retry": String(status >= 500 || status === 429),
    };
    if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
    sendJson(
      res,
      status,
      {
        type: "error",
        error: { type: ERROR_TYPES[status] ?? "api_error", message: ERROR_MESSAGES[status] ?? `fake error ${status}` },
        request_id: requestId,
      },
      headers,
    );
  };

  const sse = (res: ServerResponse, event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const answerMessages = (res: ServerResponse, rec: ModelApiRequest, stall: boolean, text?: string) => {
    const { blocks, stopReason } = answerBlocks(text ?? (typeof reply === "function" ? reply(rec) : reply));
    const model = typeof field(rec.body, "model") === "string" ? String(field(rec.body, "model")) : "claude-fake";
    const id = `msg_fake_${randomBytes(8).toString("hex")}`;
    const inputTokens = estimateTokens(field(rec.body, "messages"));
    const outputTokens = Math.max(1, Math.ceil(blocks.reduce((n, b) => n + blockLength(b), 0) / 4));
    const usage: ModelApiUsage = {
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    if (!stall) rec.usage = usage;
    if (!rec.stream) {
      if (stall) return; // a JSON answer cannot stall half-way: it hangs
      sendJson(
        res,
        200,
        {
          id,
          type: "message",
          role: "assistant",
          model,
          content: blocks,
          stop_reason: stopReason,
          stop_sequence: null,
          usage,
        },
        { "request-id": `req_fake_${randomBytes(8).toString("hex")}` },
      );
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "request-id": `req_fake_${randomBytes(8).toString("hex")}`,
    });
    sse(res, "message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    for (const [index, block] of blocks.entries()) {
      const [start, ...rest] = blockEvents(block, index);
      if (start) sse(res, start[0], start[1]);
      if (stall) return; // message_start and the first content_block_start, then silence
      if (index === 0) sse(res, "ping", { type: "ping" });
      for (const [event, data] of rest) sse(res, event, data);
    }
    sse(res, "message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    });
    sse(res, "message_stop", { type: "message_stop" });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const raw = await readBody(req, 32 * 1_048_576);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const method = req.method ?? "GET";
    const isMessages = method === "POST" && url.pathname === "/v1/messages";
    let used = "";
    if (isMessages) {
      used = modes.peek().name;
    }
    const rec: ModelApiRequest = {
      method,
      path: url.pathname,
      query: url.search,
      headers: maskedHeaders(req),
      body,
      at: Date.now(),
      stream: isMessages && field(body, "stream") === true,
      mode: used,
      status: 0,
    };
    requests.push(rec);
    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (method === "HEAD" || (method === "GET" && url.pathname === "/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(method === "HEAD" ? undefined : "fake model api");
      return;
    }
    if (method === "POST" && url.pathname === "/v1/messages/count_tokens") {
      sendJson(res, 200, { input_tokens: estimateTokens(field(body, "messages")) });
      return;
    }
    if (method === "GET" && url.pathname === "/v1/models") {
      sendJson(res, 200, {
        data: [{ type: "model", id: "claude-fake", display_name: "Fake", created_at: "2025-01-01T00:00:00Z" }],
        has_more: false,
        first_id: "claude-fake",
        last_id: "claude-fake",
      });
      return;
    }
    if (!isMessages) {
      sendError(res, 404);
      return;
    }
    if (raw === undefined || body === null) {
      sendError(res, raw === undefined ? 413 : 400);
      return;
    }
    await barriers.hold(rec); // a barrier may hold it until its companions arrive
    const { resolved } = modes.next();
    switch (resolved.kind) {
      case "ok":
        answerMessages(res, rec, false);
        return;
      case "empty":
        answerMessages(res, rec, false, "");
        return;
      case "stall-after-start":
        answerMessages(res, rec, true);
        return;
      case "hang":
        return;
      case "drop":
        req.socket.destroy();
        return;
      case "status":
        sendError(res, resolved.status ?? 500, resolved.retryAfter);
        return;
    }
  };

  const loopback = await startLoopback(handle, (res) => sendError(res, 500), options);

  return {
    url: loopback.origin,
    requests,
    messages: () => requests.filter((r) => r.method === "POST" && r.path === "/v1/messages"),
    barrier: (barrierOptions) => barriers.add(barrierOptions),
    setMode(next) {
      modes.set(next);
    },
    close() {
      barriers.releaseAll();
      return loopback.close();
    },
  };
}
