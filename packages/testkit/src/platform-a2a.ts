import { randomUUID } from "node:crypto";
import { type ClientRequest, request as httpRequest, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { TestkitError } from "./errors.js";
import { parseJson, sendJson } from "./http-util.js";
import type { SendMessageOptions } from "./platform-types.js";

/** @internal */
export interface A2aForwarder {
  /** Forwards one JSON-RPC body to the workspace's registered URL and pipes the answer back to `res`. */
  forward(id: string, raw: Buffer, res: ServerResponse): void;
  /** Destroys every forward in flight (the platform goes down or closes). */
  dropAll(): void;
}

/**
 * `POST /workspaces/:id/a2a` in the default `forward` mode, as the real platform does it: the
 * JSON-RPC body goes to the URL the workspace registered, with only `Content-Type`, and the request
 * is held until the workspace answers (no timeout: a turn may take minutes). The answer's status and
 * body go back to the caller; 503 when the workspace never registered a URL, 502 when it cannot be
 * reached. The forwards in flight are owned here. @internal
 */
export function createA2aForwarder(urlOf: (id: string) => string | null | undefined): A2aForwarder {
  const forwards = new Set<ClientRequest>();
  const dropAll = () => {
    for (const outgoing of forwards) outgoing.destroy();
    forwards.clear();
  };
  return { forward: (id, raw, res) => forwardA2a(forwards, urlOf(id), raw, res), dropAll };
}

function forwardA2a(
  forwards: Set<ClientRequest>,
  target: string | null | undefined,
  raw: Buffer,
  res: ServerResponse,
): void {
  if (!target) {
    sendJson(res, 503, { error: "workspace has not registered a URL to forward to" });
    return;
  }
  let outgoing: ClientRequest;
  const finish = () => forwards.delete(outgoing);
  try {
    const url = new URL(target);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    outgoing = send(url, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": raw.length },
    });
  } catch (error) {
    sendJson(res, 502, {
      error: `cannot forward to ${target}: ${error instanceof Error ? error.message : String(error)}`,
    });
    return;
  }
  forwards.add(outgoing);
  outgoing.on("response", (answer) => {
    const chunks: Buffer[] = [];
    answer.on("data", (chunk: Buffer) => chunks.push(chunk));
    answer.on("end", () => {
      finish();
      if (res.destroyed) return;
      const body = Buffer.concat(chunks);
      res.writeHead(answer.statusCode ?? 502, {
        "content-type": answer.headers["content-type"] ?? "application/json",
        "content-length": body.length,
      });
      res.end(body);
    });
    answer.on("error", () => {
      finish();
      if (!res.headersSent) sendJson(res, 502, { error: `the workspace at ${target} dropped the connection` });
      else res.destroy();
    });
  });
  outgoing.on("error", (error) => {
    finish();
    if (res.headersSent || res.destroyed) return;
    const code = (error as NodeJS.ErrnoException).code ?? error.message;
    sendJson(res, 502, { error: `cannot reach the workspace at ${target} (${code})` });
  });
  // The caller gave up: so does the forward.
  res.on("close", () => {
    if (!res.writableFinished) outgoing.destroy();
  });
  outgoing.end(raw);
}

/** The reply text of an A2A v0.3 / v1.0 JSON-RPC answer: message parts, else artifact parts, else the task's status message. */
function replyText(result: unknown): string | undefined {
  const texts = (parts: unknown): string[] =>
    Array.isArray(parts)
      ? parts.flatMap((p) =>
          typeof p === "object" && p !== null && typeof (p as { text?: unknown }).text === "string"
            ? [(p as { text: string }).text]
            : [],
        )
      : [];
  if (typeof result !== "object" || result === null) return undefined;
  const r = result as Record<string, unknown>;
  const payload = (r.message ?? r.task ?? r) as Record<string, unknown>;
  const direct = texts(payload.parts);
  if (direct.length > 0) return direct.join("");
  const artifacts = Array.isArray(payload.artifacts) ? payload.artifacts : [];
  const fromArtifacts = artifacts.flatMap((a) => texts((a as { parts?: unknown } | null)?.parts));
  if (fromArtifacts.length > 0) return fromArtifacts.join("");
  const status = payload.status as { message?: { parts?: unknown } } | undefined;
  const fromStatus = texts(status?.message?.parts);
  return fromStatus.length > 0 ? fromStatus.join("") : undefined;
}

/**
 * `platform.sendMessage(workspaceId, text, { contextId? })`: a `message/send` through this
 * platform's own `POST /workspaces/:id/a2a` (recorded in `a2aCalls`, with the workspace's live token),
 * resolved with the reply text; a JSON-RPC error or a non-2xx answer rejects with `E_TESTKIT_A2A_FAILED`. @internal
 */
export async function sendMessage(
  platform: { readonly baseUrl: string; readonly orgId: string | undefined; liveToken(id: string): string | undefined },
  workspaceId: string,
  text: string,
  options: SendMessageOptions = {},
): Promise<string> {
  const { baseUrl, orgId } = platform;
  const token = platform.liveToken(workspaceId);
  const message: Record<string, unknown> = {
    role: "user",
    messageId: randomUUID(),
    parts: [{ kind: "text", text }],
  };
  if (options.contextId !== undefined) message.contextId = options.contextId;
  const res = await fetch(`${baseUrl}/workspaces/${encodeURIComponent(workspaceId)}/a2a`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(orgId !== undefined ? { "x-molecule-org-id": orgId } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: randomUUID(), method: "message/send", params: { message } }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const body = await res.text();
  const parsed = parseJson(body) as { result?: unknown; error?: { code?: unknown; message?: unknown } } | undefined;
  const fail = (why: string) =>
    new TestkitError({ code: "E_TESTKIT_A2A_FAILED", message: `sendMessage to ${workspaceId}: ${why}` });
  if (res.status < 200 || res.status >= 300) throw fail(`HTTP ${res.status} ${body.slice(0, 200)}`);
  if (parsed?.error) throw fail(`JSON-RPC error ${String(parsed.error.code)}: ${String(parsed.error.message)}`);
  const reply = replyText(parsed?.result);
  if (reply === undefined) throw fail(`no text in the answer ${body.slice(0, 200)}`);
  return reply;
}
