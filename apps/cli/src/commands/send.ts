import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { errnoCode } from "@molecule/internal";
import { request } from "undici";
import { CliError, reportCliError } from "../errors.js";
import type { Io } from "../io.js";
import { readStreamEvent, sseData } from "./send-stream.js";

/** What a JSON-RPC `message/send` (or `message/stream`) came back with; `contextId` continues the conversation. */
export type SendResult =
  | { ok: true; text: string; response: unknown; contextId?: string; taskId?: string }
  | { ok: false; code: number; message: string; data?: unknown; response: unknown };

export interface SendOptions {
  /** Whole request budget in ms (default 15 minutes: a turn may be long). */
  timeoutMs?: number;
  /** Extra headers (e.g. `authorization` for a platform proxy). */
  headers?: Record<string, string>;
  /** A2A context id to keep related messages together. */
  contextId?: string;
  /** Use `message/stream` (SSE): `onProgress` hears each progress note as it arrives. */
  stream?: boolean;
  onProgress?(text: string): void;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The text parts of an A2A message (or of a task's artifacts / status message). */
function textOf(result: unknown): string | undefined {
  if (!isRecord(result)) return undefined;
  const fromParts = (parts: unknown) =>
    Array.isArray(parts)
      ? parts
          .filter((p): p is Record<string, unknown> => isRecord(p) && typeof p.text === "string")
          .map((p) => String(p.text))
      : [];
  const direct = fromParts(result.parts);
  if (direct.length > 0) return direct.join("\n");
  if (Array.isArray(result.artifacts)) {
    const texts = result.artifacts.flatMap((a) => (isRecord(a) ? fromParts(a.parts) : []));
    if (texts.length > 0) return texts.join("\n");
  }
  if (isRecord(result.status) && isRecord(result.status.message)) {
    const texts = fromParts(result.status.message.parts);
    if (texts.length > 0) return texts.join("\n");
  }
  return undefined;
}

/**
 * Sends one A2A JSON-RPC `message/send` and resolves with the reply text or the JSON-RPC error.
 * Throws CliError for transport failures and answers that are not JSON-RPC.
 */
export async function sendMessage(url: string, text: string, options: SendOptions = {}): Promise<SendResult> {
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  const body = {
    jsonrpc: "2.0",
    id: randomUUID(),
    method: options.stream ? "message/stream" : "message/send",
    params: {
      message: {
        kind: "message",
        role: "user",
        messageId: randomUUID(),
        ...(options.contextId ? { contextId: options.contextId } : {}),
        parts: [{ kind: "text", text }],
      },
    },
  };
  let status: number;
  let raw: string;
  try {
    const res = await request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: options.stream ? "text/event-stream" : "application/json",
        ...options.headers,
      },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.statusCode;
    if (status === 401) {
      await res.body.dump();
      throw new CliError({
        code: "E_SEND_UNAUTHORIZED",
        message: `${url} answered 401: the workspace asks for its A2A token (a2a.auth: bearer). Put it in MOLECULE_A2A_TOKEN, or pass --token-file <file>.`,
      });
    }
    if (String(res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
      return await readStream(res.body, options.onProgress);
    }
    raw = await res.body.text();
  } catch (error) {
    if (CliError.isInstance(error)) throw error;
    const why = error instanceof Error ? (errnoCode(error) ?? error.message) : String(error);
    throw new CliError({
      code: "E_SEND_TRANSPORT",
      message: `cannot reach ${url}: ${why}. Check the URL (the workspace's A2A address, e.g. http://localhost:8000/).`,
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new CliError({
      code: "E_SEND_RESPONSE",
      message: `${url} answered ${status} with a body that is not JSON; is this an A2A endpoint?`,
    });
  }
  if (isRecord(json) && isRecord(json.error)) {
    return rpcError(json.error, json);
  }
  const result = isRecord(json) ? json.result : undefined;
  const reply = textOf(result);
  if (reply === undefined) {
    throw new CliError({
      code: "E_SEND_RESPONSE",
      message: `${url} answered ${status} without a JSON-RPC result or error holding text`,
    });
  }
  return { ok: true, text: reply, response: json, ...ids(result) };
}

/** A JSON-RPC `error` object as a failed SendResult (`response`: what the server sent). */
function rpcError(e: Record<string, unknown>, response: unknown): SendResult {
  return {
    ok: false,
    code: typeof e.code === "number" ? e.code : 0,
    message: typeof e.message === "string" ? e.message : "(no message)",
    ...(e.data !== undefined ? { data: e.data } : {}),
    response,
  };
}

/** The reply's contextId and taskId (a v0.3 Message names both; a Task calls its id `id`). */
function ids(result: unknown): { contextId?: string; taskId?: string } {
  if (!isRecord(result)) return {};
  const contextId = typeof result.contextId === "string" ? result.contextId : undefined;
  const rawTaskId = result.kind === "task" ? result.id : result.taskId;
  const taskId = typeof rawTaskId === "string" ? rawTaskId : undefined;
  return { ...(contextId ? { contextId } : {}), ...(taskId ? { taskId } : {}) };
}

/** Follows a `message/stream` answer to its end: progress as it arrives, then the reply or the failure. */
async function readStream(body: Readable, onProgress?: (text: string) => void): Promise<SendResult> {
  const events: unknown[] = [];
  let contextId: string | undefined;
  let taskId: string | undefined;
  let reply: string | undefined;
  for await (const data of sseData(body)) {
    events.push(data);
    if (isRecord(data) && isRecord(data.error)) {
      return rpcError(data.error, events);
    }
    const note = readStreamEvent(isRecord(data) ? data.result : undefined);
    if (!note) continue;
    if (note.kind === "task") {
      contextId = note.contextId ?? contextId;
      taskId = note.taskId ?? taskId;
    } else if (note.kind === "progress") onProgress?.(note.text);
    else if (note.kind === "reply") reply = note.text;
    else {
      const named = { ...(contextId ? { contextId } : {}), ...(taskId ? { taskId } : {}) };
      if (note.state === "completed") return { ok: true, text: reply ?? note.text ?? "", response: events, ...named };
      return {
        ok: false,
        code: -32000,
        message: note.text ?? `the task ended ${note.state}`,
        data: { outcome: note.outcome ?? note.state },
        response: events,
      };
    }
  }
  throw new CliError({
    code: "E_SEND_RESPONSE",
    message: "the stream ended before the task did (the turn goes on in the workspace; ask it with tasks/get)",
  });
}

export interface SendCommandOptions {
  json?: boolean;
  /** A file holding the workspace's A2A token (its first line); `MOLECULE_A2A_TOKEN` otherwise. */
  tokenFile?: string;
  timeout?: string;
  contextId?: string;
  stream?: boolean;
}

/** The A2A token to send: `--token-file`'s first line, else `MOLECULE_A2A_TOKEN`; none when neither. */
async function a2aToken(options: SendCommandOptions, io: Io): Promise<string | undefined> {
  if (options.tokenFile === undefined) return io.env.MOLECULE_A2A_TOKEN?.trim() || undefined;
  let content: string;
  try {
    content = await readFile(options.tokenFile, "utf8");
  } catch (error) {
    throw new CliError({
      code: "E_SEND_TOKEN_FILE",
      message: `cannot read --token-file ${options.tokenFile} (${errnoCode(error) ?? "unreadable"})`,
      cause: error,
    });
  }
  const token = content
    .split(/\r?\n/)
    .find((line) => line.trim() !== "")
    ?.trim();
  if (!token) throw new CliError({ code: "E_SEND_TOKEN_FILE", message: `--token-file ${options.tokenFile} is empty` });
  return token;
}

/** `molecule send <url> "<text>"`: prints the reply text (or the JSON-RPC error; exit 1). */
export async function sendCommand(url: string, text: string, options: SendCommandOptions, io: Io): Promise<number> {
  const seconds = options.timeout === undefined ? undefined : Number(options.timeout);
  try {
    const token = await a2aToken(options, io);
    const result = await sendMessage(url, text, {
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      ...(seconds !== undefined ? { timeoutMs: seconds * 1000 } : {}),
      ...(options.contextId ? { contextId: options.contextId } : {}),
      ...(options.stream
        ? { stream: true, onProgress: (note: string) => void io.stderr.write(`… ${note.replace(/\s+/g, " ")}\n`) }
        : {}),
    });
    if (options.json) {
      io.stdout.write(`${JSON.stringify(result.response, null, 2)}\n`);
      return result.ok ? 0 : 1;
    }
    if (result.ok) {
      io.stdout.write(result.text.endsWith("\n") ? result.text : `${result.text}\n`);
      // On stderr, so stdout stays the reply alone: the id that continues this conversation.
      if (result.contextId)
        io.stderr.write(`context: ${result.contextId} (continue with --context-id ${result.contextId})\n`);
      return 0;
    }
    const data = result.data === undefined ? "" : ` ${JSON.stringify(result.data)}`;
    io.stderr.write(`molecule: JSON-RPC error ${result.code}: ${result.message}${data}\n`);
    return 1;
  } catch (error) {
    return reportCliError(error, io);
  }
}
