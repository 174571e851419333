import type { DevAgentHarness } from "./agent-harness.js";
import { CODEX_DEV } from "./codex.js";
import { GEMINI_CLI_DEV } from "./gemini-cli.js";
import { OLLAMA_DEV } from "./ollama.js";

/**
 * The agents `molecule dev --agent` drives besides Claude Code (whose path is setup.ts's own). A
 * new CLI agent is one `dev/<id>.ts` and one entry here.
 */
const HARNESSES: readonly DevAgentHarness[] = [CODEX_DEV, GEMINI_CLI_DEV, OLLAMA_DEV];

/** The ids of the agents with a harness. */
export const DEV_AGENT_IDS: readonly string[] = HARNESSES.map((harness) => harness.id);

/** The harness for registry agent `id`, or undefined (Claude Code, or an agent dev cannot drive yet). */
export function devAgentHarness(id: string): DevAgentHarness | undefined {
  return HARNESSES.find((harness) => harness.id === id);
}
