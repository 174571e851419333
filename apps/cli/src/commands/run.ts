import { resolve } from "node:path";
import type { Io } from "../io.js";

export interface RunCommandOptions {
  config?: string;
  workspaceDir?: string;
  stateDir?: string;
  /** seconds, already validated */
  grace?: number;
  pretty?: boolean;
}

/**
 * `molecule run`: the workspace daemon in the foreground (apps/runtime's runDaemon) until SIGTERM/SIGINT.
 * Exit 0 after a graceful stop, 1 when preflight or boot fails (the report goes to stderr).
 */
export async function runCommand(options: RunCommandOptions, io: Io): Promise<number> {
  // Loaded only here: the daemon brings pino, prom-client and the HTTP stack.
  const { runDaemon } = await import("@molecule/runtime");
  const env: NodeJS.ProcessEnv = { ...io.env };
  if (options.stateDir !== undefined) env.MOLECULE_STATE_DIR = resolve(options.stateDir);
  return runDaemon({
    env,
    write: (text) => io.stderr.write(text),
    ...(options.config !== undefined ? { configDir: resolve(options.config) } : {}),
    ...(options.workspaceDir !== undefined ? { workspaceDir: resolve(options.workspaceDir) } : {}),
    ...(options.grace !== undefined ? { graceMs: options.grace * 1000 } : {}),
    ...(options.pretty ? { pretty: true } : {}),
  });
}
