import * as z from "zod";
import type { TurnActivity, TurnUsage } from "../executor.js";

// What Claude Code's `--output-format stream-json --verbose` tells about the work: `assistant` lines
// carry `tool_use` and `thinking` blocks, `user` lines the `tool_result` blocks, the final `result`
// line the run's usage, cost, models and the tools it was denied. Read at the edge with zod: a
// malformed line or block is skipped, never the turn's failure.

const toolUseBlock = z.object({
  type: z.enum(["tool_use", "server_tool_use"]),
  id: z.string().optional().catch(undefined),
  name: z.string().min(1),
  input: z.unknown().optional(),
});
const thinkingBlock = z.object({ type: z.literal("thinking"), thinking: z.string() });
const toolResultBlock = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string().optional().catch(undefined),
  content: z.unknown().optional(),
  is_error: z.boolean().optional().catch(undefined),
});
const block = z.discriminatedUnion("type", [toolUseBlock, thinkingBlock, toolResultBlock]);

const messageLine = z.object({
  type: z.enum(["assistant", "user"]),
  message: z.object({ content: z.array(z.unknown()) }),
});

/** The most tool-call ids remembered for their results' names (a call whose result never comes is forgotten in time). */
const MAX_PENDING_CALLS = 1_024;

/** The text of a `tool_result`'s content: a string, or its blocks' texts (an image is `[image]`). */
function resultText(content: unknown): string | undefined {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  return content
    .map((part: unknown) => {
      if (typeof part !== "object" || part === null) return "";
      if ("text" in part && typeof part.text === "string") return part.text;
      return "type" in part && typeof part.type === "string" ? `[${part.type}]` : "";
    })
    .join("\n");
}

/**
 * Reads the activities out of Claude Code's stream-json lines: each tool call (name, id, input), its
 * result (the call's name by its id, the text of the content, the error flag) and thinking text.
 * Raw values: the daemon bounds and masks the summaries. One per executor: call ids are unique, so
 * turns running side by side share it safely. @internal
 */
export function createClaudeActivityReader() {
  const names = new Map<string, string>();

  function fromValue(value: unknown): TurnActivity[] {
    const line = messageLine.safeParse(value);
    if (!line.success) return [];
    const event = line.data;
    const out: TurnActivity[] = [];
    for (const raw of event.message.content) {
      const parsed = block.safeParse(raw);
      if (!parsed.success) continue;
      const b = parsed.data;
      if (b.type === "thinking") {
        if (event.type === "assistant" && b.thinking.trim()) out.push({ kind: "thinking", text: b.thinking });
      } else if (b.type === "tool_result") {
        const tool = b.tool_use_id === undefined ? undefined : names.get(b.tool_use_id);
        if (b.tool_use_id !== undefined) names.delete(b.tool_use_id);
        const output = resultText(b.content);
        out.push({
          kind: "tool_result",
          ...(tool !== undefined ? { tool } : {}),
          ...(b.tool_use_id !== undefined ? { id: b.tool_use_id } : {}),
          ...(output !== undefined ? { output } : {}),
          ...(b.is_error === true ? { error: true } : {}),
        });
      } else if (event.type === "assistant") {
        if (b.id !== undefined) {
          if (names.size >= MAX_PENDING_CALLS) {
            const oldest = names.keys().next().value;
            if (oldest !== undefined) names.delete(oldest);
          }
          names.set(b.id, b.name);
        }
        out.push({
          kind: "tool_call",
          tool: b.name,
          ...(b.id !== undefined ? { id: b.id } : {}),
          ...(b.input !== undefined ? { input: b.input } : {}),
        });
      }
    }
    return out;
  }

  return {
    /** A stdout line; cheap for lines that carry no activity (most of them). */
    line(line: string): TurnActivity[] {
      if (!line.includes('"tool_use"') && !line.includes('"tool_result"') && !line.includes('"thinking"')) return [];
      const text = line.trim();
      if (!text.startsWith("{")) return [];
      try {
        return fromValue(JSON.parse(text));
      } catch {
        return [];
      }
    },
    /** A line too long to hold whole, read as bounded JSON (a tool's huge output). */
    value: fromValue,
  };
}

const tokens = z.number().int().nonnegative().optional().catch(undefined);
const resultFields = z.object({
  usage: z
    .object({
      input_tokens: tokens,
      output_tokens: tokens,
      cache_read_input_tokens: tokens,
      cache_creation_input_tokens: tokens,
    })
    .optional()
    .catch(undefined),
  total_cost_usd: z.number().nonnegative().optional().catch(undefined),
  modelUsage: z
    .record(z.string(), z.object({ outputTokens: z.number().optional().catch(undefined) }).catch({}))
    .optional()
    .catch(undefined),
  permission_denials: z
    .array(z.object({ tool_name: z.string() }).nullable().catch(null))
    .optional()
    .catch(undefined),
});

/** What a `result` line says beyond the answer. @internal */
export interface ClaudeResultFacts {
  usage?: TurnUsage;
  /** The tools the run was denied (headless: it would have asked for permission), each once. */
  permissionDenials: string[];
}

/**
 * The usage of a Claude Code `result` line (this invocation only: a resumed session's earlier turns
 * are not in it — checked with the real CLI), its cost (`total_cost_usd`), the model (the
 * `modelUsage` key with the most output tokens) and its permission denials. @internal
 */
export function claudeResultFacts(event: Record<string, unknown>): ClaudeResultFacts {
  const parsed = resultFields.safeParse(event);
  if (!parsed.success) return { permissionDenials: [] };
  const { usage, total_cost_usd: cost, modelUsage, permission_denials: denials } = parsed.data;
  const permissionDenials = [...new Set((denials ?? []).flatMap((d) => (d ? [d.tool_name] : [])))];
  if (!usage || (usage.input_tokens === undefined && usage.output_tokens === undefined)) return { permissionDenials };
  let model: string | undefined;
  let most = -1;
  for (const [name, figures] of Object.entries(modelUsage ?? {})) {
    const out = figures.outputTokens ?? 0;
    if (out > most) {
      most = out;
      model = name;
    }
  }
  return {
    usage: {
      input_tokens: usage.input_tokens ?? 0,
      output_tokens: usage.output_tokens ?? 0,
      ...(usage.cache_read_input_tokens !== undefined
        ? { cache_read_input_tokens: usage.cache_read_input_tokens }
        : {}),
      ...(usage.cache_creation_input_tokens !== undefined
        ? { cache_creation_input_tokens: usage.cache_creation_input_tokens }
        : {}),
      ...(cost !== undefined && Number.isFinite(cost) ? { cost_usd: cost } : {}),
      ...(model !== undefined ? { model } : {}),
    },
    permissionDenials,
  };
}

// Measured with the real CLI (2.1.197) headless (`-p`): a tool call that needs permission (e.g. Bash
// running `node -e …` without `--allowedTools`) is not prompted for: its result is the error "This
// command requires approval", the run goes on (the model answers something) and exits 0 with a
// success result whose `permission_denials` lists the tool. `AskUserQuestion` is not among the tools
// offered; a call of it anyway gets "No such tool available … not enabled in this context" and the
// run goes on too (even with `--allowedTools=AskUserQuestion`). Neither hangs; both would pass for
// an answer, so the classifier fails them with `askedUserError`.

/** The tool Claude Code offers a model to ask the user; headless (`-p`) it is never enabled. */
export const ASK_USER_TOOL = "AskUserQuestion";

/** A tool name fit for an error message (a denied MCP tool is `mcp__server__tool`). */
function toolLabel(name: string): string {
  return name.replace(/[^\w.:-]/g, "").slice(0, 64) || "a tool";
}

/**
 * The caller's error for a turn that stopped to ask the user (a permission prompt or a question),
 * which a headless turn cannot answer. @internal
 */
export function askedUserError(facts: { permissionDenials: readonly string[]; askedUser: boolean }): string {
  if (facts.permissionDenials.length > 0) {
    const tools = facts.permissionDenials.slice(0, 5).map(toolLabel);
    return `the agent stopped to ask for permission to use ${tools.join(", ")}; a headless turn cannot answer — allow the tool (runtime_config.args: ["--allowedTools=${tools.join(",")}"]) or rephrase the task`;
  }
  return `the agent stopped to ask the user a question (${ASK_USER_TOOL}); a headless turn cannot answer — put what it needs to know in the message`;
}
