import path from "node:path";
import type { AgentAuthContext } from "./agent-auth.js";
import { nonEmpty } from "./probe-util.js";

type HomeContext = Pick<AgentAuthContext, "home" | "env" | "stateDir">;

/** How one agent's home is found: its own env var, else the state dir, else the CLI's default. @internal */
export interface AgentHome {
  /** The registry id, e.g. the `<id>` of `<stateDir>/agents/<id>`. */
  readonly id: string;
  /** The CLI's variable for its home, e.g. `CODEX_HOME`. */
  readonly env: string;
  /** Where the CLI looks when its variable is unset, from the user's home. */
  readonly cliDefault: (home: string) => string;
}

/** The home of `spec`'s agent (see {@link agentHomeDir}). @internal */
export function homeOf(spec: AgentHome, context: HomeContext): string {
  const fromEnv = context.env[spec.env];
  if (nonEmpty(fromEnv)) return path.resolve(fromEnv);
  if (nonEmpty(context.stateDir)) return path.resolve(context.stateDir, "agents", spec.id);
  return spec.cliDefault(context.home);
}
