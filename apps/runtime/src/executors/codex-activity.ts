import * as z from "zod";
import type { TurnActivity } from "../executor.js";
import { eventParser } from "./classify.js";

// What Codex CLI 0.169.0 did, from `exec --json`'s item events (measured against the testkit's fake
// Responses API, the model calling Codex's `exec` tool):
//   {"type":"item.started","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'cat hello.txt'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
//   {"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"…","aggregated_output":"hello\n","exit_code":0,"status":"completed"}}
//   a failed command: `"exit_code":1,"status":"failed"`
//   {"type":"item.started","item":{"id":"item_0","type":"file_change","changes":[{"path":"/w/new.txt","kind":"add"}],"status":"in_progress"}}
//   then item.completed with `"status":"completed"` (or "failed")
// `mcp_tool_call` (server, tool, arguments, result, error, status), `web_search` (query) and
// `reasoning` (text) items have the same lifecycle. Every item that is a tool is reported as a
// tool_call when it starts and a tool_result when it completes; a reasoning item as thinking.

const ITEM = z
  .object({
    id: z.string().optional().catch(undefined),
    type: z.string(),
    status: z.string().optional().catch(undefined),
    command: z.string().optional().catch(undefined),
    aggregated_output: z.string().optional().catch(undefined),
    exit_code: z.number().nullish().catch(undefined),
    changes: z.unknown().optional(),
    server: z.string().optional().catch(undefined),
    tool: z.string().optional().catch(undefined),
    arguments: z.unknown().optional(),
    result: z.unknown().optional(),
    error: z.unknown().optional(),
    query: z.string().optional().catch(undefined),
    text: z.string().optional().catch(undefined),
  })
  .loose();
const EVENT = z.object({ type: z.enum(["item.started", "item.completed"]), item: ITEM });
type CodexItem = z.infer<typeof ITEM>;

const events = eventParser(EVENT);

/** The tool an item stands for (`shell` for a command), or `undefined` for an item that is not a tool. */
function toolOf(item: CodexItem): string | undefined {
  switch (item.type) {
    case "command_execution":
      return "shell";
    case "mcp_tool_call":
      return item.tool ?? "mcp_tool_call";
    case "file_change":
    case "web_search":
      return item.type;
    default:
      return undefined;
  }
}

function inputOf(item: CodexItem): unknown {
  switch (item.type) {
    case "command_execution":
      return item.command;
    case "mcp_tool_call":
      return item.arguments;
    case "file_change":
      return item.changes;
    default:
      return item.query;
  }
}

function outputOf(item: CodexItem): unknown {
  switch (item.type) {
    case "command_execution":
      return item.aggregated_output;
    case "mcp_tool_call":
      return item.error ?? item.result;
    case "file_change":
      return item.changes;
    default:
      return item.query;
  }
}

function failed(item: CodexItem): boolean {
  if (item.status === "failed" || item.status === "declined") return true;
  if (item.type === "command_execution" && typeof item.exit_code === "number") return item.exit_code !== 0;
  return item.type === "mcp_tool_call" && item.error !== undefined && item.error !== null;
}

/**
 * What one `codex exec --json` stdout line says the agent did: a tool call when a tool item starts,
 * its result when it completes (an error when the command exited non-zero or the item failed),
 * thinking for a reasoning item. Raw values: the daemon bounds and masks them. @internal
 */
export function codexActivityOf(line: string): TurnActivity | undefined {
  // Cheap pre-check: most lines (usage, errors) are not items.
  if (!line.includes('"item.')) return undefined;
  return activityOf(events.line(line));
}

/** The same for a line too long to hold whole (a command's huge output), read as bounded JSON. @internal */
export function codexActivityOfValue(value: unknown): TurnActivity | undefined {
  return activityOf(events.value(value));
}

function activityOf(event: z.infer<typeof EVENT> | undefined): TurnActivity | undefined {
  if (!event) return undefined;
  const { item } = event;
  if (item.type === "reasoning") {
    return event.type === "item.completed" && item.text ? { kind: "thinking", text: item.text } : undefined;
  }
  const tool = toolOf(item);
  if (tool === undefined) return undefined;
  const id = item.id !== undefined ? { id: item.id } : {};
  if (event.type === "item.started") return { kind: "tool_call", tool, ...id, input: inputOf(item) };
  return { kind: "tool_result", tool, ...id, output: outputOf(item), ...(failed(item) ? { error: true } : {}) };
}

// A turn that stops to ask (measured, `codex exec` 0.169.0, approval `never`): Codex never waits. A
// question (`request_user_input`) or a command asking to leave the sandbox (`sandbox_permissions:
// "require_escalated"`) is refused at once, the refusal goes back to the model as the tool's output,
// and stderr logs it:
//   ERROR codex_core::tools::router: error=request_user_input is unavailable in Default mode
//   ERROR codex_core::tools::router: error=approval policy is Never; reject command — you cannot ask for escalated permissions if the approval policy is Never
// The model's "answer" after that is most likely a request the caller cannot grant here.
const ASKED_QUESTION = /tools::router: error=request_user_input(?:_async)? is unavailable/;
const ASKED_ESCALATION = /tools::router: error=approval policy is Never; reject command/;

/**
 * The caller's error for a Codex turn that stopped to ask the user (a question, or an approval to run
 * a command outside the sandbox), which a headless turn cannot answer; `undefined` when it did not.
 * @internal
 */
export function codexAskedUserError(stderr: string): string | undefined {
  if (ASKED_ESCALATION.test(stderr)) {
    return 'the agent stopped to ask for approval to run a command outside its sandbox; a headless turn cannot answer — choose the sandbox up front (runtime_config.args: ["-s", "workspace-write"]) or rephrase the task';
  }
  if (ASKED_QUESTION.test(stderr)) {
    return "the agent stopped to ask the user a question (request_user_input); a headless turn cannot answer — put what it needs to know in the message";
  }
  return undefined;
}
