import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  /** Exactly the child's environment (nothing is inherited). */
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | undefined;
  /** SIGKILL after this long (default 30 000); the result then has `signal: "SIGKILL"`. */
  timeoutMs?: number | undefined;
  /**
   * Start the child in its own process group and kill the whole group on timeout (for programs that
   * start children of their own, like the real Claude Code CLI).
   */
  killGroup?: boolean | undefined;
}

export interface StartedProcess {
  child: ChildProcess;
  /** What the child printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the child has exited and its output is closed. */
  exited: Promise<ProcessResult>;
}

/** Starts `command args` as a real child process, collecting its output. */
export function startProcess(command: string, args: readonly string[], options: ProcessOptions): StartedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: options.killGroup === true,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => {
    if (options.killGroup === true && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
        return;
      } catch {
        // the group is gone: kill the child alone
      }
    }
    child.kill("SIGKILL");
  }, options.timeoutMs ?? 30_000);
  const exited = new Promise<ProcessResult>((resolve, reject) => {
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Runs `command args` to completion (see `startProcess`). */
export function runProcess(command: string, args: readonly string[], options: ProcessOptions): Promise<ProcessResult> {
  return startProcess(command, args, options).exited;
}

/** True while `pid` is a live process (a zombie waiting for init to reap it is not). Reads Linux `/proc`. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
