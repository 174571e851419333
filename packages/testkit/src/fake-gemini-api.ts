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
import { contentsOf, functionResponsesOf, jsonSchemaOf, sample } from "./fake-gemini-api-parts.js";
import { parseJson, readBody, sendJson } from "./http-util.js";

/**
 * How `:streamGenerateContent` and `:generateContent` answer (`:countTokens` and the other routes always
 * answer normally):
 * - `ok`: the reply (SSE chunks with `?alt=sse`), the last chunk with `finishReason: "STOP"` and `usageMetadata`
 * - `empty`: one chunk with `finishReason: "STOP"` and no parts (requests that ask for JSON still get it)
 * - `status:<code>[:retry-after=<s>]`: a Google error body (`{ error: { code, message, status, details } }`);
 *   a retry-after adds a `google.rpc.RetryInfo` detail
 * - `quota`: 429 with a per-day `google.rpc.QuotaFailure` (terminal for Gemini CLI)
 * - `bad-key`: 400 `API_KEY_INVALID`, what the real API answers for a wrong key
 * - `hang`, `stall-after-start` (headers and the first chunk, then nothing), `drop`, `fail-first:<n>[:<code>]`
 */
export type GeminiApiMode =
  | "ok"
  | "empty"
  | "quota"
  | "bad-key"
  | "hang"
  | "stall-after-start"
  | "drop"
  | `status:${number}`
  | `status:${number}:retry-after=${number}`
  | `fail-first:${number}`
  | `fail-first:${number}:${number}`;

/** One content of a request's `contents`, flattened to its text. */
export interface GeminiApiMessage {
  /** "user" or "model" */
  readonly role: string;
  /** the text parts joined with "\n" */
  readonly text: string;
}

/** A function call the fake model makes: the agent runs the tool and sends a `functionResponse` in the next request. */
export interface GeminiFunctionCall {
  /** the tool's name as the agent declared it, e.g. Gemini CLI's `read_file` */
  name: string;
  args: Record<string, unknown>;
  /** the call's id; none by default (the Gemini API sends none) */
  id?: string;
}

/**
 * What the fake model answers: a text, or any of a thought (a `thought: true` part, first), a text and
 * a function call (last).
 */
export type GeminiReply = string | { thought?: string; text?: string; functionCall?: GeminiFunctionCall };

/** A `functionResponse` part of a request: a tool's result as the agent sent it back. */
export interface GeminiFunctionResponse {
  readonly name: string;
  readonly id?: string;
  /** the part's `response` object */
  readonly response: unknown;
}

/** One request the fake Gemini API received. */
export interface GeminiApiRequest {
  readonly method: string;
  /** the path without the query, e.g. "/v1beta/models/gemini-2.5-flash:streamGenerateContent" */
  readonly path: string;
  /** the query string including "?", or "" */
  readonly query: string;
  /** the model named in the path, e.g. "gemini-2.5-flash" ("" for other routes) */
  readonly model: string;
  /** "streamGenerateContent", "generateContent", "countTokens", or "" for other routes */
  readonly rpc: string;
  /** lower-cased headers; x-goog-api-key, authorization and cookie values are "***" */
  readonly headers: Readonly<Record<string, string>>;
  /** the parsed JSON body, or null */
  readonly body: unknown;
  /** the body's `contents`, in order (a resumed turn carries the earlier user and model contents) */
  readonly messages: readonly GeminiApiMessage[];
  /** the `functionResponse` parts of the body's `contents`, in order (a request after a function call carries its result) */
  readonly functionResponses: readonly GeminiFunctionResponse[];
  /** Date.now() at arrival */
  readonly at: number;
  /** true for `:streamGenerateContent` */
  readonly stream: boolean;
  /** the mode that answered a generate request ("" for other routes) */
  readonly mode: string;
  /** the status answered; 0 when dropped or still hanging */
  status: number;
  /** the `usageMetadata` the answer reported, when it answered with one */
  usage?: { promptTokenCount: number; candidatesTokenCount: number; totalTokenCount: number };
}

export interface FakeGeminiApiOptions {
  /**
   * the model's text, or a function of the request returning a text or a function call (e.g. a call while
   * `request.functionResponses` is empty, then a text); default "Hello from the fake Gemini API." Requests that
   * ask for JSON (`generationConfig.responseMimeType: "application/json"`, e.g. Gemini CLI's model router)
   * get JSON built from their `responseJsonSchema`/`responseSchema` instead (enums prefer "user", numbers 10, strings "fake").
   */
  reply?: string | ((request: GeminiApiRequest) => GeminiReply);
  /** default "ok" */
  mode?: GeminiApiMode;
  /** default 0 (any free port) */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
}

export interface FakeGeminiApi {
  /** `http://127.0.0.1:<port>` — the host root, as `GOOGLE_GEMINI_BASE_URL` */
  readonly url: string;
  /** every request received, oldest first (a live array) */
  readonly requests: readonly GeminiApiRequest[];
  /** `:streamGenerateContent` and `:generateContent` requests only, oldest first */
  generations(): readonly GeminiApiRequest[];
  /** changes the mode for the next requests (resets a `fail-first` count) */
  setMode(mode: GeminiApiMode): void;
  close(): Promise<void>;
}

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

const MESSAGES: Record<number, string> = {
  400: "fake: invalid argument",
  401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. (fake)",
  403: "The caller does not have permission (fake)",
  429: "Resource has been exhausted (e.g. check quota). (fake)",
  500: "An internal error has occurred. (fake)",
  503: "The model is overloaded. Please try again later. (fake)",
};

const ROUTE = /^\/(v1[a-z0-9]*)\/models\/([^/:]+):(streamGenerateContent|generateContent|countTokens)$/;

const hex = () => randomBytes(8).toString("hex");

/**
 * Starts a loopback fake of the Gemini API (`/v1beta/models/<model>:streamGenerateContent?alt=sse`,
 * `:generateContent`, `:countTokens`, `GET /v1beta/models`), good enough for the real Gemini CLI with
 * `GOOGLE_GEMINI_BASE_URL` and `selectedType: "gemini-api-key"`.
 */
export async function startFakeGeminiApi(options: FakeGeminiApiOptions = {}): Promise<FakeGeminiApi> {
  const modes = modeState(options.mode ?? "ok", ["quota", "bad-key"], "startFakeGeminiApi");
  const requests: GeminiApiRequest[] = [];
  const reply = options.reply ?? "Hello from the fake Gemini API.";

  const sendError = (res: ServerResponse, status: number, kind: string, model = "", retryAfter?: number) => {
    const details: unknown[] = [];
    const headers: Record<string, string> = {};
    let message = MESSAGES[status] ?? `fake error ${status}`;
    if (status === 404) {
      message = `models/${model || "fake-missing"} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`;
    }
    if (kind === "bad-key") {
      message = "API key not valid. Please pass a valid API key.";
      details.push({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "API_KEY_INVALID",
        domain: "googleapis.com",
        metadata: { service: "generativelanguage.googleapis.com" },
      });
    }
    if (kind === "quota") {
      message = "You exceeded your current quota, please check your plan and billing details. (fake)";
      details.push({
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [
          {
            quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            quotaDimensions: { location: "global", model: model || "fake" },
            quotaValue: "250",
          },
        ],
      });
    }
    if (retryAfter !== undefined) {
      headers["retry-after"] = String(retryAfter);
      details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` });
    }
    sendJson(
      res,
      status,
      { error: { code: status, message, status: STATUS_NAMES[status] ?? "UNKNOWN", details } },
      headers,
    );
  };

  const answer = (res: ServerResponse, rec: GeminiApiRequest, mode: ResolvedMode, sse: boolean) => {
    const schema = jsonSchemaOf(rec.body);
    let text = "";
    let call: GeminiFunctionCall | undefined;
    let thought: string | undefined;
    // `empty` is the model's answer with no text; a JSON side call (the CLI's model router) still gets its JSON.
    if (mode.kind !== "empty" || schema !== undefined) {
      const answered: GeminiReply =
        schema !== undefined ? JSON.stringify(sample(schema)) : typeof reply === "function" ? reply(rec) : reply;
      text = typeof answered === "string" ? answered : (answered.text ?? "");
      if (typeof answered !== "string") ({ functionCall: call, thought } = answered);
    }
    const callPart = call
      ? { functionCall: { name: call.name, args: call.args, ...(call.id ? { id: call.id } : {}) } }
      : undefined;
    const promptTokenCount = estimateTokens(field(rec.body, "contents"));
    const produced = text.length + (callPart ? JSON.stringify(callPart).length : 0) + (thought?.length ?? 0);
    const candidatesTokenCount = produced === 0 ? 0 : Math.max(1, Math.ceil(produced / 4));
    const usageMetadata = {
      promptTokenCount,
      candidatesTokenCount,
      totalTokenCount: promptTokenCount + candidatesTokenCount,
    };
    if (mode.kind !== "stall-after-start") rec.usage = usageMetadata;
    const common = { modelVersion: rec.model, responseId: `fake_${hex()}` };
    const chunk = (parts: string[], last: boolean, first = false) => ({
      candidates: [
        {
          content: {
            role: "model",
            parts: [
              ...(first && thought ? [{ text: thought, thought: true }] : []),
              ...parts.map((t): Record<string, unknown> => ({ text: t })),
              ...(last && callPart ? [callPart] : []),
            ],
          },
          ...(last ? { finishReason: "STOP" } : {}),
          index: 0,
        },
      ],
      ...(last ? { usageMetadata } : {}),
      ...common,
    });
    if (!rec.stream) {
      if (mode.kind !== "stall-after-start") sendJson(res, 200, chunk(text === "" ? [] : [text], true, true));
      return;
    }
    const pieces = schema !== undefined ? [text] : halves(text);
    const chunks =
      pieces.length === 0
        ? [chunk([], true, true)]
        : pieces.map((p, i) => chunk([p], i === pieces.length - 1, i === 0));
    if (!sse) {
      if (mode.kind !== "stall-after-start") sendJson(res, 200, chunks);
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const c of chunks) {
      if (mode.kind === "stall-after-start") {
        const first = c.candidates[0];
        res.write(`data: ${JSON.stringify({ ...c, candidates: [{ content: first?.content, index: 0 }] })}\r\n\r\n`);
        return;
      }
      res.write(`data: ${JSON.stringify(c)}\r\n\r\n`);
    }
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const raw = await readBody(req, 32 * 1_048_576);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const method = req.method ?? "GET";
    const route = method === "POST" ? ROUTE.exec(url.pathname) : null;
    const model = decodeURIComponent(route?.[2] ?? "");
    const rpc = route?.[3] ?? "";
    const isGenerate = rpc === "streamGenerateContent" || rpc === "generateContent";
    const next = isGenerate ? modes.next() : undefined;
    const rec: GeminiApiRequest = {
      method,
      path: url.pathname,
      query: url.search,
      model,
      rpc,
      headers: maskedHeaders(req),
      body,
      messages: contentsOf(body),
      functionResponses: functionResponsesOf(body),
      at: Date.now(),
      stream: rpc === "streamGenerateContent",
      mode: next?.name ?? "",
      status: 0,
    };
    requests.push(rec);
    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (method === "HEAD" || (method === "GET" && url.pathname === "/")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(method === "HEAD" ? undefined : "fake gemini api");
      return;
    }
    const listed = method === "GET" ? /^\/v1[a-z0-9]*\/models(?:\/([^/:]+))?$/.exec(url.pathname) : null;
    if (listed) {
      const describe = (name: string) => ({
        name: `models/${name}`,
        displayName: name,
        inputTokenLimit: 1_048_576,
        outputTokenLimit: 65_536,
        supportedGenerationMethods: ["generateContent", "countTokens"],
      });
      sendJson(res, 200, listed[1] ? describe(listed[1]) : { models: [describe("gemini-2.5-flash")] });
      return;
    }
    if (!route) {
      sendError(res, 404, "status");
      return;
    }
    if (raw === undefined || body === null) {
      sendError(res, 400, "status");
      return;
    }
    if (rpc === "countTokens") {
      sendJson(res, 200, { totalTokens: estimateTokens(field(body, "contents") ?? body) });
      return;
    }
    const mode = next?.resolved ?? { kind: "ok" };
    if (mode.status !== undefined) {
      sendError(res, mode.status, "status", model, mode.retryAfter);
      return;
    }
    switch (mode.kind) {
      case "hang":
        return;
      case "drop":
        req.socket.destroy();
        return;
      case "quota":
        sendError(res, 429, "quota", model);
        return;
      case "bad-key":
        sendError(res, 400, "bad-key", model);
        return;
      default:
        answer(res, rec, mode, url.searchParams.get("alt") === "sse");
    }
  };

  const server = await startLoopback(handle, (res) => sendError(res, 500, "status"), options);
  return {
    url: server.origin,
    requests,
    generations: () => requests.filter((r) => r.rpc === "streamGenerateContent" || r.rpc === "generateContent"),
    setMode: (mode) => modes.set(mode),
    close: () => server.close(),
  };
}
