import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { SHUTDOWN } from "../executor.js";
import { killRunningAgents, runProcess } from "./process.js";

const node = process.execPath;

/** True while `pid` exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return stat !== "" && !stat.startsWith("Z");
  } catch {
    return false; // ps exits 1 when there is no such process
  }
}

async function waitUntil(predicate: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return predicate();
}

describe("runProcess", () => {
  it("passes the message on stdin and collects stdout, stderr and the exit code", async () => {
    const run = await runProcess({
      command: node,
      args: [
        "-e",
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{console.log('got:'+s);console.error('warn');process.exit(3)})",
      ],
      cwd: process.cwd(),
      env: process.env,
      stdin: "hello",
      timeoutMs: 10_000,
    });
    expect(run.stdout.trim()).toBe("got:hello");
    expect(run.stderr.trim()).toBe("warn");
    expect(run.exitCode).toBe(3);
    expect(run.timedOut).toBe(false);
  });

  it("reports a binary that does not exist as a spawn error", async () => {
    const run = await runProcess({
      command: "/nonexistent/agent-cli",
      args: [],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 1_000,
    });
    expect(run.spawnError?.code).toBe("ENOENT");
  });

  it("on timeout kills the whole process group, grandchildren included, and leaves no process behind", async () => {
    // The agent starts a grandchild that ignores SIGTERM, prints its pid, and both hang.
    // The timeout leaves node 2 s to start and install its handler even on a loaded machine (at
    // 300 ms a slow start meant SIGTERM killed it before it could ignore it: a flaky SIGTERM).
    const script = `
      process.on("SIGTERM", () => {});
      const { spawn } = require("node:child_process");
      const g = spawn(process.execPath, ["-e", "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)"], { stdio: "ignore" });
      console.log(JSON.stringify({ grandchild: g.pid }));
      setInterval(() => {}, 1000);
    `;
    const run = await runProcess({
      command: node,
      args: ["-e", script],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 2_000,
      killGraceMs: 200,
    });
    expect(run.timedOut).toBe(true);
    expect(run.signal).toBe("SIGKILL");
    const { grandchild } = JSON.parse(run.stdout.trim()) as { grandchild: number };
    // Killed with the group: gone, or at most a zombie waiting for init to reap it (it is not our child).
    expect(await waitUntil(() => !running(grandchild))).toBe(true);
  });

  it("cancel terminates the group; a shutdown abort uses the short grace", async () => {
    const controller = new AbortController();
    const pending = runProcess({
      command: node,
      args: ["-e", "process.on('SIGTERM',()=>{});console.log('started');setInterval(()=>{},1000)"],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 0,
      killGraceMs: 60_000,
      signal: controller.signal,
      onStdoutLine: (line) => {
        if (line === "started") controller.abort(SHUTDOWN);
      },
    });
    const run = await pending;
    expect(run.cancelled).toBe(true);
    expect(run.signal).toBe("SIGKILL");
  });

  it("delivers stdout line by line as it arrives", async () => {
    const lines: string[] = [];
    await runProcess({
      command: node,
      args: ["-e", "process.stdout.write('a\\nb');setTimeout(()=>process.stdout.write('c\\nd'),20)"],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 5_000,
      onStdoutLine: (line) => lines.push(line),
    });
    expect(lines).toEqual(["a", "bc", "d"]);
  });

  it("reads an output of any size to its end in bounded memory: every line, a long one as bounded JSON", async () => {
    // 6 MB of short lines, one 3 MB JSON line, 1 MB of stderr, then the line that matters.
    const script = [
      "const w = (s) => new Promise((r) => (process.stdout.write(s) ? r() : process.stdout.once('drain', r)));",
      "(async () => {",
      "  for (let i = 0; i < 6000; i++) await w('x'.repeat(999) + '\\n');",
      "  await w(JSON.stringify({ type: 'big', text: 'y'.repeat(3000000), after: 'kept' }) + '\\n');",
      "  process.stderr.write('first error line\\n' + 'e'.repeat(1000000) + '\\nlast error line\\n');",
      "  await w('the answer\\n');",
      "})();",
    ].join("\n");
    let lines = 0;
    let last = "";
    const longs: { chars: number; value: unknown }[] = [];
    const run = await runProcess({
      command: node,
      args: ["-e", script],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 20_000,
      onStdoutLine: (line) => {
        lines += 1;
        if (line) last = line;
      },
      onLongStdoutLine: (line) => longs.push(line),
      maxStringChars: 1_000,
    });
    expect(run.exitCode).toBe(0);
    expect(lines).toBe(6000 + 1); // the short lines and the answer (the long line went apart)
    expect(last).toBe("the answer");
    expect(longs).toHaveLength(1);
    expect(longs[0]?.chars).toBeGreaterThan(3_000_000);
    expect(longs[0]?.value).toEqual({ type: "big", text: "y".repeat(1_000), after: "kept" });
    // What the run keeps is bounded: stdout's start, stderr's start and end.
    expect(run.stdout.length).toBe(64 * 1024);
    expect(run.stdoutCut).toBe(true);
    expect(run.stderr.length).toBeLessThan(70 * 1024);
    expect(run.stderr.startsWith("first error line")).toBe(true);
    expect(run.stderr.trimEnd().endsWith("last error line")).toBe(true);
    expect(run.stderr).toMatch(/\[… \d+ characters left out …\]/);
  });

  it("killRunningAgents kills every agent group still running (a hard exit orphans none), and only those", async () => {
    let started: () => void = () => undefined;
    const ready = new Promise<void>((r) => {
      started = r;
    });
    const pending = runProcess({
      command: node,
      args: ["-e", "process.on('SIGTERM',()=>{});console.log('started');setInterval(()=>{},1000)"],
      cwd: process.cwd(),
      env: process.env,
      stdin: "",
      timeoutMs: 0,
      onStdoutLine: (line) => {
        if (line === "started") started();
      },
    });
    await ready;
    expect(killRunningAgents("SIGKILL")).toBe(1);
    const run = await pending;
    expect(run.signal).toBe("SIGKILL");
    expect(killRunningAgents("SIGKILL")).toBe(0); // finished runs are forgotten
  });
});
