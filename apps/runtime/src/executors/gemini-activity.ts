import * as z from "zod";
import type { TurnActivity } from "../executor.js";
import { eventParser } from "./classify.js";

// What Gemini CLI 0.61.0 did, from `-o stream-json` (measured against the testkit's fake Gemini API,
// the fake model asking for a function call):
//   {"type":"tool_use","timestamp":"…","tool_name":"read_file","tool_id":"read_file__read_file_1796316663856_0","parameters":{"file_path":"hello.txt"}}
//   {"type":"tool_result","timestamp":"…","tool_id":"read_file__read_file_1796316663856_0","status":"success","output":""}
//   a failure: "status":"error","output":"Tool \"run_shell_command\" not found. …","error":{"type":"tool_not_registered","message":"…"}
// (`output` is what the CLI shows: empty for read_file, a command's output for run_shell_command.)
// A result names no tool, but its id does: `<tool>__<tool>_<ms>_<n>`.
const TOOL_IN_ID = /^(.+)__\1_\d+_\d+$/;

const EVENT = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("tool_use"),
    tool_name: z.string().min(1),
    tool_id: z.string().optional().catch(undefined),
    parameters: z.unknown().optional(),
  }),
  z.object({
    type: z.literal("tool_result"),
    tool_id: z.string().optional().catch(undefined),
    status: z.string().optional().catch(undefined),
    output: z.unknown().optional(),
    error: z
      .object({ message: z.string().optional().catch(undefined) })
      .loose()
      .nullish()
      .catch(undefined),
  }),
]);
type GeminiToolEvent = z.infer<typeof EVENT>;

const events = eventParser<GeminiToolEvent>(EVENT);

function activityOf(event: GeminiToolEvent | undefined): TurnActivity | undefined {
  if (!event) return undefined;
  const id = event.tool_id !== undefined ? { id: event.tool_id } : {};
  if (event.type === "tool_use") return { kind: "tool_call", tool: event.tool_name, ...id, input: event.parameters };
  const failed = event.status !== undefined && event.status !== "success";
  // An empty display output says nothing: the error's message is then the better summary.
  const output = event.output === "" || event.output === undefined ? event.error?.message : event.output;
  const tool = event.tool_id !== undefined ? TOOL_IN_ID.exec(event.tool_id)?.[1] : undefined;
  return {
    kind: "tool_result",
    ...(tool ? { tool } : {}),
    ...id,
    ...(output !== undefined ? { output } : {}),
    ...(failed || event.error ? { error: true } : {}),
  };
}

/**
 * What one `gemini -o stream-json` stdout line says the agent did: `tool_use` → a tool call,
 * `tool_result` → its result (an error when its status is not `success`). Raw values: the daemon
 * bounds and masks them. @internal
 */
export function geminiActivityOf(line: string): TurnActivity | undefined {
  if (!line.includes('"tool_')) return undefined;
  return activityOf(events.line(line));
}

/** The same for a line too long to hold whole (a tool's huge output), read as bounded JSON. @internal */
export function geminiActivityOfValue(value: unknown): TurnActivity | undefined {
  return activityOf(events.value(value));
}
