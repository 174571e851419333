import type { WorkspaceConfig } from "@molecule/config";
import { a2aAuthCheck } from "./a2a-checks.js";
import { agentAuthCheck, agentBinaryCheck } from "./agent-checks.js";
import {
  authTokenFileCheck,
  promptFilesCheck,
  pushNotificationsCheck,
  requiredEnvAnyOfCheck,
  requiredEnvCheck,
  runtimeCheck,
  skillsCheck,
} from "./config-checks.js";
import { agentEndpointCheck, agentEndpointReadyCheck } from "./endpoint-check.js";
import { environmentCheck, platformTokenCheck, platformUrlCheck, workspaceIdCheck } from "./env-checks.js";
import { PreflightError } from "./errors.js";
import { defineCheck } from "./run.js";
import { NON_AGENT_RUNTIMES } from "./runtimes.js";
import type { Check } from "./types.js";

export interface WorkspaceChecksOptions {
  /** Include the agent checks (binary + `--version`, auth gate). Default true; false reports them skipped with a warning. */
  agentChecks?: boolean;
  /** Keep only the checks with these names (e.g. `["agent-auth"]`). Default: all. */
  only?: readonly string[];
  /** Drop the checks with these names (e.g. `["skills", "prompt-files"]`). Default: none. */
  skip?: readonly string[];
  /**
   * The checks as the readiness gate runs them: a model server that does not answer (agent-endpoint)
   * fails instead of warning. Default false (boot: a local model server often starts after the workspace).
   */
  readiness?: boolean;
}

/** Every built-in check, in report order: environment, config-level, agent. */
const BUILT_IN: readonly Check[] = [
  workspaceIdCheck,
  platformUrlCheck,
  platformTokenCheck,
  environmentCheck,
  runtimeCheck,
  pushNotificationsCheck,
  a2aAuthCheck,
  requiredEnvCheck,
  requiredEnvAnyOfCheck,
  authTokenFileCheck,
  promptFilesCheck,
  skillsCheck,
  agentBinaryCheck,
  agentEndpointCheck,
  agentAuthCheck,
];

const AGENT_CHECKS = new Set([agentBinaryCheck.name, agentEndpointCheck.name, agentAuthCheck.name]);

function names(option: "only" | "skip", value: readonly string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((name) => typeof name !== "string")) {
    throw new PreflightError({
      code: "E_PREFLIGHT_BAD_OPTIONS",
      message: `workspaceChecks: ${option} must be an array of check names, e.g. ["agent-auth"]`,
    });
  }
  const known = BUILT_IN.map((check) => check.name);
  const unknown = value.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new PreflightError({
      code: "E_PREFLIGHT_UNKNOWN_CHECK",
      message: `workspaceChecks: ${option} names ${unknown.map((n) => JSON.stringify(n)).join(", ")}, which ${unknown.length === 1 ? "is not a check" : "are not checks"}; use names from ${known.join(", ")} (config.yaml loading, "config", always runs)`,
    });
  }
  return new Set(value);
}

/**
 * The built-in checks for a workspace, in report order: environment, config-level, agent.
 * `only` keeps the named checks, `skip` then drops named ones; a name that is not a built-in check
 * throws `E_PREFLIGHT_UNKNOWN_CHECK`. With a config, checks that cannot apply are left out (no auth
 * gate for the `command` and `adapter` runtimes); without one (not loaded yet) every check is included and those
 * needing the config skip.
 */
export function workspaceChecks(config: WorkspaceConfig | undefined, options: WorkspaceChecksOptions = {}): Check[] {
  const only = names("only", options.only);
  const skip = names("skip", options.skip);
  const selected = BUILT_IN.filter((check) => {
    if (only && !only.has(check.name)) return false;
    if (skip?.has(check.name)) return false;
    if (check === agentAuthCheck && config && NON_AGENT_RUNTIMES.includes(config.runtime)) return false;
    return true;
  });
  if (options.readiness === true) {
    const at = selected.indexOf(agentEndpointCheck);
    if (at >= 0) selected[at] = agentEndpointReadyCheck;
  }
  if (options.agentChecks !== false) return selected;
  const withoutAgent = selected.filter((check) => !AGENT_CHECKS.has(check.name));
  if (withoutAgent.length < selected.length) withoutAgent.push(agentChecksOff);
  return withoutAgent;
}

const agentChecksOff = defineCheck({
  name: "agent",
  needsConfig: false,
  run: () => ({
    skip: "agent checks off",
    issues: [
      {
        severity: "warn",
        code: "W_AGENT_CHECKS_OFF",
        title: "Agent checks skipped",
        detail: "the agent binary, its --version and its login were not checked",
        fix: "Run preflight without --no-agent before going live.",
      },
    ],
  }),
});
