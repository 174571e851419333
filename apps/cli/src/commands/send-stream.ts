import type { Readable } from "node:stream";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The text parts of a message (v0.3 `kind: "text"` or v1.0 `{ text }`), joined. */
export function partsText(parts: unknown): string | undefined {
  if (!Array.isArray(parts)) return undefined;
  const texts = parts.filter((p): p is Record<string, unknown> => isRecord(p) && typeof p.text === "string");
  return texts.length > 0 ? texts.map((p) => String(p.text)).join("\n") : undefined;
}

/** What one A2A stream event (v0.3 `result`) says. */
export type StreamNote =
  | { kind: "task"; taskId?: string; contextId?: string }
  | { kind: "progress"; text: string }
  | { kind: "reply"; text: string }
  | { kind: "end"; state: string; text?: string; outcome?: string; taskId?: string; contextId?: string };

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** Reads one `message/stream` result (a Task, a status-update or an artifact-update). */
export function readStreamEvent(result: unknown): StreamNote | undefined {
  if (!isRecord(result)) return undefined;
  const status = isRecord(result.status) ? result.status : undefined;
  const message = status && isRecord(status.message) ? status.message : undefined;
  const text = partsText(message?.parts);
  if (result.kind === "task") {
    const taskId = str(result.id);
    const contextId = str(result.contextId);
    return { kind: "task", ...(taskId ? { taskId } : {}), ...(contextId ? { contextId } : {}) };
  }
  if (result.kind === "artifact-update" && isRecord(result.artifact)) {
    const reply = partsText(result.artifact.parts);
    return reply === undefined ? undefined : { kind: "reply", text: reply };
  }
  if (result.kind === "status-update" && status) {
    const state = str(status.state) ?? "unknown";
    if (result.final === true || ["completed", "failed", "canceled", "rejected"].includes(state)) {
      const metadata = isRecord(result.metadata) ? result.metadata : {};
      const outcome = str(metadata.outcome);
      const taskId = str(result.taskId);
      const contextId = str(result.contextId);
      return {
        kind: "end",
        state,
        ...(text !== undefined ? { text } : {}),
        ...(outcome ? { outcome } : {}),
        ...(taskId ? { taskId } : {}),
        ...(contextId ? { contextId } : {}),
      };
    }
    return text === undefined ? undefined : { kind: "progress", text };
  }
  return undefined;
}

/** The JSON-RPC responses of a Server-Sent Events body, as they arrive. */
export async function* sseData(body: Readable): AsyncGenerator<unknown> {
  let buffer = "";
  for await (const chunk of body) {
    buffer += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (data === "") continue; // a keep-alive comment
      try {
        yield JSON.parse(data);
      } catch {
        // not JSON: skip it, as EventSource clients do with what they cannot use
      }
    }
  }
}
