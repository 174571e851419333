import { createCommandExecutor, startRuntime } from "@molecule/runtime";

/** Any program that reads the message on stdin and prints its answer on stdout is an agent. */
export function startCommandAgent(command: string, configDir: string, env = process.env) {
  // Preflight checks that `command` exists; a turn past timeoutMs kills its process group.
  const executor = createCommandExecutor({ command, args: [], cwd: configDir, env, timeoutMs: 120_000 });
  return startRuntime({ executor, configDir, env });
}
