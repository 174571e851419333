import { RuntimeError } from "./errors.js";
import { killRunningAgents } from "./executors/process.js";
import { flushLogs } from "./logger.js";
import { type RuntimeHandle, type RuntimeOptions, startRuntime } from "./runtime.js";

export interface RunDaemonOptions extends RuntimeOptions {
  /** Where boot failures are printed (default stderr). */
  write?: (text: string) => void;
}

/**
 * Starts the daemon and keeps it running until SIGTERM/SIGINT: the first signal shuts down
 * gracefully within the grace budget (exit 0), a second one exits at once. A fatal error (an
 * uncaught exception or unhandled rejection) exits 1 once the log lines before it are written.
 * Resolves with the process exit code: 0 ok, 1 for anything preflight or boot reports.
 */
export async function runDaemon(options: RunDaemonOptions = {}): Promise<number> {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  // Signals are handled from the start: a SIGTERM while boot still retrying register (the platform
  // down) must shut down as cleanly as one later, not kill the process mid-turn.
  const boot = new AbortController();
  let handle: RuntimeHandle | undefined;
  let signals = 0;
  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    finished = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // Exit at once, but never leave an agent running on its own (it has a process group of its own).
      killRunningAgents("SIGKILL");
      process.exit(1);
    }
    if (!handle) {
      boot.abort(signal); // startRuntime shuts down what it started and rejects with E_BOOT_ABORTED
      return;
    }
    void handle.stop(signal).then(() => finished(0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // A fatal error (an exception nothing caught, a rejection nothing handled) still ends the process
  // with exit 1 and its stack on stderr, as Node would, but only once the log lines written before
  // it are out (the log is asynchronous) and no agent is left running on its own.
  let fatal = false;
  const onFatal = (error: unknown, origin: string) => {
    if (fatal) process.exit(1);
    fatal = true;
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`molecule-runtime: fatal ${origin}: ${detail}\n`);
    killRunningAgents("SIGKILL");
    void flushLogs(1_000).finally(() => process.exit(1));
  };
  process.on("uncaughtException", onFatal);
  const off = () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("uncaughtException", onFatal);
  };
  try {
    handle = await startRuntime({
      ...options,
      signal: options.signal ? AbortSignal.any([options.signal, boot.signal]) : boot.signal,
    });
  } catch (error) {
    off();
    await flushLogs(); // what boot logged (preflight's warnings) is out before the process exits
    if (RuntimeError.isInstance(error) && error.code === "E_BOOT_ABORTED") return 0;
    if (RuntimeError.isInstance(error)) {
      write(`${error.message.trimEnd()}\n`);
      return 1;
    }
    write(`molecule-runtime: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const running = handle;
  options.signal?.addEventListener("abort", () => void running.stop("aborted").then(() => finished(0)), { once: true });
  const code = await done;
  off();
  await flushLogs(); // runtime.stopped and every line before it are written before the exit
  return code;
}
