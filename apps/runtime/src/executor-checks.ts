import { resolve } from "node:path";
import type { WorkspaceConfig } from "@molecule/config";
import { findExecutable } from "@molecule/internal";
import { type Check, defineCheck, workspaceChecks } from "@molecule/preflight";
import { ADAPTER_RUNTIME } from "./adapter/load.js";
import type { Executor } from "./executor.js";

/** The built-in checks that are about `config.runtime`'s agent: an executor of your own replaces them. */
const RUNTIME_CHECKS = ["runtime", "agent-binary", "agent-endpoint", "agent-auth"];

/**
 * What preflight runs at boot: every built-in check, or — with an executor of your own, where
 * `config.runtime` is ignored — the config-level ones and the executor's own `checks`. For
 * `runtime: adapter` there is no agent binary: the adapter module and its executor's checks are
 * checked once it is loaded (adapter/boot.ts). @internal
 */
export function bootChecks(config: WorkspaceConfig | undefined, executor: Executor | undefined): Check[] {
  if (!executor && config?.runtime === ADAPTER_RUNTIME) return workspaceChecks(config, { skip: ["agent-binary"] });
  if (!executor) return workspaceChecks(config);
  return [...workspaceChecks(config, { skip: RUNTIME_CHECKS }), ...(executor.checks ?? [])];
}

/**
 * What the readiness gate re-checks (what can change at run time): the agent's credentials for a
 * built-in runtime (none for `command`) and, for an endpoint agent, that its model server answers
 * with the model, or an executor's own `checks`. @internal
 */
export function readinessChecks(config: WorkspaceConfig, executor: Executor | undefined): Check[] {
  // agent-endpoint: an endpoint agent's model server answers and has the model (fails readiness; skips for a CLI).
  if (!executor) return workspaceChecks(config, { only: ["agent-endpoint", "agent-auth"], readiness: true });
  return [...(executor.checks ?? [])];
}

/**
 * A preflight check that `command` can be run: an executable file at that path (relative to `cwd`),
 * or a name on `env`'s `PATH` (default: the daemon's env). `createCommandExecutor` supplies it for
 * its own command.
 */
export function commandCheck(
  command: string,
  options: { name?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Check {
  const name = options.name ?? "agent-command";
  const cwd = options.cwd ?? ".";
  return defineCheck({
    name,
    needsConfig: false,
    async run(ctx) {
      const found = await findExecutable(command, options.env ?? ctx.env, cwd);
      if (found) return { detail: found };
      const where = command.includes("/")
        ? `${resolve(cwd, command)} is not an executable file`
        : `${command} is not on PATH`;
      return {
        issues: [
          {
            severity: "fail",
            code: "E_AGENT_COMMAND_MISSING",
            title: "Agent command not found",
            detail: where,
            fix: `Install ${command} so it is on PATH, or pass its absolute path as the executor's command.`,
          },
        ],
      };
    },
  });
}
