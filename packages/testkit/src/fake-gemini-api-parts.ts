import { field } from "./fake-api-common.js";
import type { GeminiApiMessage, GeminiFunctionResponse } from "./fake-gemini-api.js";

// Reading the Gemini API requests the fake receives, and answering the JSON side calls.

/** The body's `contents`, each flattened to its text. @internal */
export function contentsOf(body: unknown): GeminiApiMessage[] {
  const contents = field(body, "contents");
  if (!Array.isArray(contents)) return [];
  return contents.map((content: unknown) => {
    const parts = field(content, "parts");
    const texts = Array.isArray(parts)
      ? parts.map((p: unknown) => field(p, "text")).filter((t): t is string => typeof t === "string")
      : [];
    return { role: String(field(content, "role") ?? "user"), text: texts.join("\n") };
  });
}

/** The `functionResponse` parts of the body's `contents`, in order. @internal */
export function functionResponsesOf(body: unknown): GeminiFunctionResponse[] {
  const contents = field(body, "contents");
  if (!Array.isArray(contents)) return [];
  const found: GeminiFunctionResponse[] = [];
  for (const content of contents) {
    const parts = field(content, "parts");
    if (!Array.isArray(parts)) continue;
    for (const part of parts) {
      const response = field(part, "functionResponse");
      if (response === undefined) continue;
      const id = field(response, "id");
      found.push({
        name: String(field(response, "name") ?? ""),
        ...(typeof id === "string" ? { id } : {}),
        response: field(response, "response"),
      });
    }
  }
  return found;
}

/** A JSON value matching a (Gemini `Type` or JSON Schema) schema. */
export function sample(schema: unknown, depth = 0): unknown {
  if (depth > 8) return null;
  const choices = field(schema, "enum");
  if (Array.isArray(choices) && choices.length > 0) return choices.includes("user") ? "user" : choices[0];
  let type = field(schema, "type");
  if (Array.isArray(type)) type = type.find((t) => String(t).toLowerCase() !== "null");
  const properties = field(schema, "properties");
  switch (String(type ?? (properties ? "object" : "string")).toLowerCase()) {
    case "object": {
      const out: Record<string, unknown> = {};
      if (typeof properties === "object" && properties !== null) {
        for (const [key, value] of Object.entries(properties)) out[key] = sample(value, depth + 1);
      }
      return out;
    }
    case "array":
      return [sample(field(schema, "items"), depth + 1)];
    case "integer":
    case "number":
      return 10;
    case "boolean":
      return true;
    default:
      return "fake";
  }
}

/** The JSON schema a request asks its answer to follow, if it asks for JSON. @internal */
export function jsonSchemaOf(body: unknown): unknown {
  const config = field(body, "generationConfig");
  const schema = field(config, "responseJsonSchema") ?? field(config, "responseSchema");
  if (schema !== undefined) return schema;
  return field(config, "responseMimeType") === "application/json" ? { type: "object" } : undefined;
}
