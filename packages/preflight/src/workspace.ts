import type { WorkspaceConfig } from "@molecule/config";
import { agentAuthCheck, agentBinaryCheck } from "./agent-checks.js";
import {
  authTokenFileCheck,
  effortCheck,
  idleIntervalCheck,
  portCheck,
  promptFilesCheck,
  requiredEnvAnyOfCheck,
  requiredEnvCheck,
  runtimeCheck,
  skillsCheck,
  taskBudgetCheck,
} from "./config-checks.js";
import { environmentCheck, platformTokenCheck, platformUrlCheck, workspaceIdCheck } from "./env-checks.js";
import { defineCheck } from "./run.js";
import { AGENT_BINARIES } from "./runtimes.js";
import type { Check } from "./types.js";

export interface WorkspaceChecksOptions {
  /** Include the agent checks (binary + `--version`, auth gate). Default true; false reports them skipped with a warning. */
  agentChecks?: boolean;
}

/**
 * The built-in checks for a workspace, in report order: environment, config-level, agent. With a
 * config, runtime-specific checks that cannot apply are left out (no auth gate for the `command`
 * runtime); without one (not loaded yet) every check is included and those needing the config skip.
 */
export function workspaceChecks(config: WorkspaceConfig | undefined, ctx: WorkspaceChecksOptions = {}): Check[] {
  const checks: Check[] = [
    workspaceIdCheck,
    platformUrlCheck,
    platformTokenCheck,
    environmentCheck,
    runtimeCheck,
    portCheck,
    requiredEnvCheck,
    requiredEnvAnyOfCheck,
    authTokenFileCheck,
    promptFilesCheck,
    skillsCheck,
    idleIntervalCheck,
    taskBudgetCheck,
    effortCheck,
  ];
  if (ctx.agentChecks === false) {
    checks.push(agentChecksOff);
    return checks;
  }
  checks.push(agentBinaryCheck);
  const hasAuthProbe = config === undefined || config.runtime in AGENT_BINARIES;
  if (hasAuthProbe) checks.push(agentAuthCheck);
  return checks;
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
