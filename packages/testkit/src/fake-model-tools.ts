import { randomBytes } from "node:crypto";
import { halves } from "./fake-api-common.js";

/** A tool call the fake model makes: the agent runs the tool and sends its result in the next request. */
export interface FakeToolUse {
  /** the tool's name as the agent offered it in `tools`, e.g. "Bash" */
  name: string;
  /** the tool's input, e.g. `{ command: "id -u", description: "print my uid" }` */
  input: Record<string, unknown>;
  /** the `tool_use` block's id; default `toolu_fake_<random>` */
  id?: string;
}

/**
 * What the fake model answers: a text, or a tool call (optionally preceded by a text) with
 * `stop_reason: "tool_use"`; either may open with a `thinking` block (extended thinking's shape,
 * with a fake signature).
 */
export type FakeModelReply =
  | string
  | { toolUse: FakeToolUse; text?: string; thinking?: string }
  | { text: string; thinking: string };

/** One content block of the answer, in the Messages API's shape. */
export type AnswerBlock =
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

const FAKE_SIGNATURE = "ZmFrZS10aGlua2luZy1zaWduYXR1cmU=";

/** The content blocks and stop reason of a reply. @internal */
export function answerBlocks(reply: FakeModelReply): { blocks: AnswerBlock[]; stopReason: "end_turn" | "tool_use" } {
  if (typeof reply === "string") return { blocks: [{ type: "text", text: reply }], stopReason: "end_turn" };
  const blocks: AnswerBlock[] = [];
  if (reply.thinking) blocks.push({ type: "thinking", thinking: reply.thinking, signature: FAKE_SIGNATURE });
  if (!("toolUse" in reply)) {
    blocks.push({ type: "text", text: reply.text });
    return { blocks, stopReason: "end_turn" };
  }
  if (reply.text) blocks.push({ type: "text", text: reply.text });
  blocks.push({
    type: "tool_use",
    id: reply.toolUse.id ?? `toolu_fake_${randomBytes(8).toString("hex")}`,
    name: reply.toolUse.name,
    input: reply.toolUse.input,
  });
  return { blocks, stopReason: "tool_use" };
}

/** The SSE events that stream one content block: start, delta(s), stop. @internal */
export function blockEvents(block: AnswerBlock, index: number): Array<[string, Record<string, unknown>]> {
  if (block.type === "tool_use") {
    const json = JSON.stringify(block.input);
    const half = Math.ceil(json.length / 2);
    return [
      [
        "content_block_start",
        {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        },
      ],
      ...[json.slice(0, half), json.slice(half)]
        .filter((piece) => piece !== "")
        .map((piece): [string, Record<string, unknown>] => [
          "content_block_delta",
          { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: piece } },
        ]),
      ["content_block_stop", { type: "content_block_stop", index }],
    ];
  }
  if (block.type === "thinking") {
    return [
      [
        "content_block_start",
        { type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } },
      ],
      ...halves(block.thinking).map((piece): [string, Record<string, unknown>] => [
        "content_block_delta",
        { type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: piece } },
      ]),
      [
        "content_block_delta",
        { type: "content_block_delta", index, delta: { type: "signature_delta", signature: block.signature } },
      ],
      ["content_block_stop", { type: "content_block_stop", index }],
    ];
  }
  const half = Math.ceil(block.text.length / 2);
  return [
    ["content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }],
    ...[block.text.slice(0, half), block.text.slice(half)]
      .filter((piece) => piece !== "")
      .map((piece): [string, Record<string, unknown>] => [
        "content_block_delta",
        { type: "content_block_delta", index, delta: { type: "text_delta", text: piece } },
      ]),
    ["content_block_stop", { type: "content_block_stop", index }],
  ];
}

/** The length the token estimate uses for a block. @internal */
export function blockLength(block: AnswerBlock): number {
  if (block.type === "thinking") return block.thinking.length;
  return block.type === "text" ? block.text.length : JSON.stringify(block.input).length;
}

/**
 * The text of the last `tool_result` block in a `POST /v1/messages` body (what the agent's tool
 * returned), or undefined when the request carries none — the cue to answer the tool's output.
 */
export function lastToolResult(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("messages" in body) || !Array.isArray(body.messages)) {
    return undefined;
  }
  const last: unknown = body.messages.at(-1);
  if (typeof last !== "object" || last === null || !("content" in last) || !Array.isArray(last.content)) {
    return undefined;
  }
  const results = last.content.filter(
    (c: unknown): c is { content?: unknown } =>
      typeof c === "object" && c !== null && "type" in c && c.type === "tool_result",
  );
  const result = results.at(-1);
  if (!result) return undefined;
  const content = result.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) =>
      typeof part === "object" && part !== null && "text" in part && typeof part.text === "string" ? part.text : "",
    )
    .join("");
}
