import type { AgentAuthContext } from "./agent-auth.js";
import { homeOf } from "./agent-homes.js";
import { CODEX_HOME } from "./codex-probe.js";
import { GEMINI_CLI_HOME } from "./gemini-probe.js";

const HOMES = [CODEX_HOME, GEMINI_CLI_HOME];

/**
 * The home an agent CLI runs with, as the runtime sets it (`CODEX_HOME` for codex,
 * `GEMINI_CLI_HOME` — the dir holding `.gemini` — for gemini-cli): the variable from `env` when
 * set; else `<stateDir>/agents/<agent>` when a state dir is given; else the CLI's own default under
 * `home` (`~/.codex`, `~`). The credential probe, the executor and the resume gate all read this
 * place. `undefined` for an agent whose home the runtime does not choose this way.
 */
export function agentHomeDir(
  agent: string,
  context: Pick<AgentAuthContext, "home" | "env" | "stateDir">,
): string | undefined {
  const spec = HOMES.find((home) => home.id === agent);
  return spec === undefined ? undefined : homeOf(spec, context);
}
