import { randomUUID } from "node:crypto";
import { request } from "undici";
import { CliError } from "../errors.js";
import type { Io } from "../io.js";

/** What a JSON-RPC `message/send` came back with. */
export type SendResult =
  | { ok: true; text: string; response: unknown }
  | { ok: false; code: number; message: string; data?: unknown; response: unknown };

export interface SendOptions {
  /** Whole request budget in ms (default 15 minutes: a turn may be long). */
  timeoutMs?: number;
  /** Extra headers (e.g. `authorization` for a platform proxy). */
  headers?: Record<string, string>;
  /** A2A context id to keep related messages together. */
  contextId?: string;
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
    method: "message/send",
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
      headers: { "content-type": "application/json", accept: "application/json", ...options.headers },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.statusCode;
    raw = await res.body.text();
  } catch (error) {
    const why = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
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
    const e = json.error;
    return {
      ok: false,
      code: typeof e.code === "number" ? e.code : 0,
      message: typeof e.message === "string" ? e.message : "(no message)",
      ...(e.data !== undefined ? { data: e.data } : {}),
      response: json,
    };
  }
  const reply = isRecord(json) ? textOf(json.result) : undefined;
  if (reply === undefined) {
    throw new CliError({
      code: "E_SEND_RESPONSE",
      message: `${url} answered ${status} without a JSON-RPC result or error holding text`,
    });
  }
  return { ok: true, text: reply, response: json };
}

export interface SendCommandOptions {
  json?: boolean;
  timeout?: string;
  contextId?: string;
}

/** `molecule send <url> "<text>"`: prints the reply text (or the JSON-RPC error; exit 1). */
export async function sendCommand(url: string, text: string, options: SendCommandOptions, io: Io): Promise<number> {
  const seconds = options.timeout === undefined ? undefined : Number(options.timeout);
  try {
    const result = await sendMessage(url, text, {
      ...(seconds !== undefined ? { timeoutMs: seconds * 1000 } : {}),
      ...(options.contextId ? { contextId: options.contextId } : {}),
    });
    if (options.json) {
      io.stdout.write(`${JSON.stringify(result.response, null, 2)}\n`);
      return result.ok ? 0 : 1;
    }
    if (result.ok) {
      io.stdout.write(result.text.endsWith("\n") ? result.text : `${result.text}\n`);
      return 0;
    }
    const data = result.data === undefined ? "" : ` ${JSON.stringify(result.data)}`;
    io.stderr.write(`molecule: JSON-RPC error ${result.code}: ${result.message}${data}\n`);
    return 1;
  } catch (error) {
    if (CliError.isInstance(error)) {
      io.stderr.write(`molecule: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
