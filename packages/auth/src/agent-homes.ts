import path from "node:path";
import type { AgentAuthContext } from "./agent-auth.js";
import { nonEmpty } from "./probe-util.js";

/** Agents whose home the runtime chooses (each CLI's own home variable). */
export type HomedAgent = "codex" | "gemini-cli";

const HOME_ENV: Record<HomedAgent, string> = { codex: "CODEX_HOME", "gemini-cli": "GEMINI_CLI_HOME" };
// Where each CLI looks when its variable is unset: `~/.codex` for Codex; Gemini CLI's home is `~`
// itself (it keeps everything under `<home>/.gemini`).
const CLI_DEFAULT: Record<HomedAgent, (home: string) => string> = {
  codex: (home) => path.join(home, ".codex"),
  "gemini-cli": (home) => home,
};

/**
 * The home an agent CLI runs with, as the runtime sets it (`CODEX_HOME` for Codex,
 * `GEMINI_CLI_HOME` for Gemini CLI): the variable from `env` when set; else
 * `<stateDir>/agents/<agent>` when a state dir is given; else the CLI's own default under `home`
 * (`~/.codex`, `~`). The credential probe, the executor and the resume gate all read this place.
 */
export function agentHomeDir(agent: HomedAgent, context: Pick<AgentAuthContext, "home" | "env" | "stateDir">): string {
  const fromEnv = context.env[HOME_ENV[agent]];
  if (nonEmpty(fromEnv)) return path.resolve(fromEnv);
  if (nonEmpty(context.stateDir)) return path.resolve(context.stateDir, "agents", agent);
  return CLI_DEFAULT[agent](context.home);
}
