import { RuntimeError } from "./errors.js";
import { killRunningAgents } from "./executors/process.js";
import { type RuntimeHandle, type RuntimeOptions, startRuntime } from "./runtime.js";

export interface RunDaemonOptions extends RuntimeOptions {
  /** Where boot failures are printed (default stderr). */
  write?: (text: string) => void;
}

/**
 * Starts the daemon and keeps it running until SIGTERM/SIGINT: the first signal shuts down
 * gracefully within the grace budget (exit 0), a second one exits at once.
 * Resolves with the process exit code: 0 ok, 1 for anything preflight or boot reports.
 */
export async function runDaemon(options: RunDaemonOptions = {}): Promise<number> {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  let handle: RuntimeHandle;
  try {
    handle = await startRuntime(options);
  } catch (error) {
    if (RuntimeError.isInstance(error)) {
      write(`${error.message.trimEnd()}\n`);
      return 1;
    }
    write(`molecule-runtime: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        // Exit at once, but never leave an agent running on its own (it has a process group of its own).
        killRunningAgents("SIGKILL");
        process.exit(1);
      }
      void handle.stop(signal).then(() => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        resolve(0);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
