import { spawn } from "node:child_process";
import { SHUTDOWN } from "../executor.js";
import { HeadTail } from "./reply-cap.js";
import { type JsonPath, type LongLine, StdoutLines } from "./stdout-lines.js";

/**
 * What one agent process did. Output is bounded whatever the agent prints: `stdout` is its start
 * (`maxOutputBytes`; the whole of it went through the line callbacks), `stderr` its start and end.
 */
export interface ProcessRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout was longer than `stdout` (which kept its start). */
  stdoutCut?: boolean;
  stderr: string;
  /** Set when the process could not be started (binary gone, not executable). */
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /**
   * The agent exited but something still held its stdout/stderr open after the drain window: a
   * descendant that left the process group (`setsid`). The pipes were closed on our side; that
   * process is not tracked and is left running.
   */
  outputHeld?: boolean;
  /** Set when the run was settled although the process never exited (not even after SIGKILL). */
  unreaped?: boolean;
}

/** Hears when an agent's process group starts and when it is gone (the agent-group record, agent-groups.ts). */
export interface AgentGroupListener {
  started(pgid: number): void;
  ended(pgid: number): void;
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
  /** How much of stdout `run.stdout` keeps, its start (default 64 KiB); the line callbacks get all of it. */
  maxOutputBytes?: number;
  /** Called with every stdout line of at most `maxLineChars` (default 1 MiB), as it arrives. */
  onStdoutLine?: (line: string) => void;
  /** Called with every longer stdout line, read on the fly with its strings cut at `maxStringChars`. */
  onLongStdoutLine?: (line: LongLine) => void;
  maxLineChars?: number;
  /** For long JSON lines: the most of one string kept (default 1 MiB; an agent's answer: max_reply_bytes). */
  maxStringChars?: number;
  /** For long JSON lines: the most kept of the string at `path`, within `maxStringChars` (the reader knows which string is the answer). */
  stringCap?: ((path: JsonPath) => number) | undefined;
  /** After the agent exits, how long its output may still drain before the pipes are closed (default 500 ms). */
  drainMs?: number;
  /** Told about the agent's process group (recorded so a later boot can end it after a kill -9 of the daemon). */
  groups?: AgentGroupListener | undefined;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024;
const DEFAULT_DRAIN_MS = 500;
/** After SIGKILL, how long to wait for the exit before settling without it (a process stuck in the kernel). */
const UNREAPED_AFTER_MS = 2_000;

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
 * whole group gets SIGTERM, then SIGKILL after the grace. The run settles on the agent's exit, not on
 * its pipes closing: after the exit its output gets `drainMs` to arrive, then the pipes are closed
 * (a descendant that escaped the group with `setsid` may hold them open forever). It resolves once
 * the process has exited (no zombies), at once when it could not be spawned, and — only if even
 * SIGKILL brings no exit — `UNREAPED_AFTER_MS` after the SIGKILL, with `unreaped`.
 * @internal
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessRun> {
  const started = Date.now();
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const killGraceMs = options.killGraceMs ?? 5_000;
  const drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
  return new Promise((resolve) => {
    let stdout = "";
    let stdoutCut = false;
    const stderr = new HeadTail();
    const wantsLines = options.onStdoutLine !== undefined || options.onLongStdoutLine !== undefined;
    const lines = wantsLines
      ? new StdoutLines(
          {
            ...(options.onStdoutLine ? { line: options.onStdoutLine } : {}),
            ...(options.onLongStdoutLine ? { long: options.onLongStdoutLine } : {}),
            ...(options.stringCap ? { stringCap: options.stringCap } : {}),
          },
          options.maxLineChars,
          options.maxStringChars,
        )
      : undefined;
    let timedOut = false;
    let cancelled = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let unreapedTimer: NodeJS.Timeout | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;

    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true, // its own process group: we can signal every descendant
      stdio: ["pipe", "pipe", "pipe"],
    });

    if (child.pid !== undefined) {
      liveGroups.add(child.pid);
      options.groups?.started(child.pid);
    }

    const finish = (run: Omit<ProcessRun, "durationMs" | "stdout" | "stderr" | "timedOut" | "cancelled">) => {
      if (settled) return;
      settled = true;
      // A group whose leader never exited stays recorded: the next boot ends it.
      if (child.pid !== undefined && !run.unreaped) {
        liveGroups.delete(child.pid);
        options.groups?.ended(child.pid);
      }
      for (const timer of [timeoutTimer, killTimer, drainTimer, unreapedTimer]) if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      lines?.end();
      resolve({
        ...run,
        stdout,
        ...(stdoutCut ? { stdoutCut } : {}),
        stderr: stderr.text(),
        timedOut,
        cancelled,
        durationMs: Date.now() - started,
      });
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

    const closePipes = () => {
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    };

    const terminate = (graceMs: number) => {
      killGroup("SIGTERM");
      killTimer = setTimeout(() => {
        killGroup("SIGKILL");
        // Settle even if no exit ever comes (a process stuck in the kernel): the turn must end.
        unreapedTimer = setTimeout(() => {
          if (exited) return;
          closePipes();
          child.unref();
          finish({ exitCode: null, signal: null, unreaped: true });
        }, UNREAPED_AFTER_MS);
      }, graceMs);
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
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      // The leader exited; nothing it started in its group may outlive the turn (or hold its pipes open).
      killGroup("SIGKILL");
      // Its output gets a short window to drain; a process that left the group may hold the pipes
      // open forever, so after the window they are closed and the run settles without them.
      drainTimer = setTimeout(() => {
        if (settled) return;
        closePipes();
        finish({ exitCode: code, signal, outputHeld: true });
      }, drainMs);
    });
    child.on("close", (exitCode, signal) => finish({ exitCode, signal }));

    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      const room = maxOutput - stdout.length;
      if (chunk.length > room) stdoutCut = true;
      if (room > 0) stdout += chunk.slice(0, room);
      lines?.push(chunk);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => stderr.push(chunk));
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
