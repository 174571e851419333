import { spawn } from "node:child_process";

/** What one agent process did. Output is bounded; the daemon never holds more than `maxOutputBytes` of it. */
export interface ProcessRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started (binary gone, not executable). */
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

export interface RunProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin: string;
  /** 0 = no limit. */
  timeoutMs: number;
  /** After SIGTERM to the process group, SIGKILL this much later. */
  killGraceMs?: number;
  signal?: AbortSignal;
  maxOutputBytes?: number;
  /** Called with every complete stdout line, as it arrives. */
  onStdoutLine?: (line: string) => void;
}

const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;

/** The abort reason the daemon uses when the grace budget for the turn in flight has run out. @internal */
export const SHUTDOWN = "shutdown";

// Process groups of agents still running: a hard exit (a second signal) must not orphan them,
// since each runs in a group of its own that no signal to the daemon reaches.
const liveGroups = new Set<number>();

/**
 * Sends `sig` to every agent process group still running, synchronously (safe right before
 * `process.exit`). Returns how many groups were signalled.
 * @internal
 */
export function killRunningAgents(sig: NodeJS.Signals = "SIGKILL"): number {
  let signalled = 0;
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, sig);
      signalled += 1;
    } catch {
      // already gone
    }
  }
  return signalled;
}

/**
 * Runs an agent CLI in its own process group with the message on stdin. On timeout or cancel the
 * whole group gets SIGTERM, then SIGKILL after the grace; the promise resolves only once the
 * process has exited (no zombies), or at once when it could not be spawned.
 * @internal
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessRun> {
  const started = Date.now();
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const killGraceMs = options.killGraceMs ?? 5_000;
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let pending = "";
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;

    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true, // its own process group: we can signal every descendant
      stdio: ["pipe", "pipe", "pipe"],
    });

    if (child.pid !== undefined) liveGroups.add(child.pid);

    const finish = (run: Omit<ProcessRun, "durationMs" | "stdout" | "stderr" | "timedOut" | "cancelled">) => {
      if (settled) return;
      settled = true;
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", onAbort);
      if (pending && options.onStdoutLine) options.onStdoutLine(pending);
      resolve({ ...run, stdout, stderr, timedOut, cancelled, durationMs: Date.now() - started });
    };

    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // already gone
        }
      }
    };

    const terminate = (graceMs: number) => {
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), graceMs);
    };

    const onAbort = () => {
      if (settled) return;
      cancelled = true;
      // On shutdown the budget is tight: SIGKILL follows SIGTERM after 1 s.
      terminate(options.signal?.reason === SHUTDOWN ? 1_000 : killGraceMs);
    };

    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish({ exitCode: null, signal: null, spawnError: error });
    });
    child.on("exit", () => {
      // The leader exited; nothing it started may outlive the turn (or hold its pipes open).
      killGroup("SIGKILL");
    });
    child.on("close", (exitCode, signal) => finish({ exitCode, signal }));

    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (stdout.length < maxOutput) stdout += chunk.slice(0, maxOutput - stdout.length);
      if (!options.onStdoutLine) return;
      pending += chunk;
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        options.onStdoutLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
      if (pending.length > maxOutput) pending = "";
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < maxOutput) stderr += chunk.slice(0, maxOutput - stderr.length);
    });
    child.stdin.on("error", () => {
      // The agent may exit without reading stdin; that is its answer, not our crash.
    });
    child.stdin.end(options.stdin);

    if (options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        terminate(killGraceMs);
      }, options.timeoutMs);
    }
    if (options.signal) {
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener("abort", onAbort, { once: true });
    }
  });
}
