import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isRunning, removeDir, tempDir, waitFor } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runProcess } from "./process.js";

// An agent whose descendant escapes its process group with `setsid` and keeps stdout/stderr open.
// These tests end the sleeper themselves: the runtime knowingly leaves escaped processes alone.
let dir: string;
let sleepers: number[] = [];

beforeEach(async () => {
  dir = await tempDir("escape-test-");
  sleepers = [];
});
afterEach(async () => {
  // Also a sleeper the test never got to (a run that did not settle).
  const recorded = Number((await readFile(join(dir, "sleeper.pid"), "utf8").catch(() => "")).trim());
  if (recorded > 0) sleepers.push(recorded);
  for (const pid of sleepers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await removeDir(dir);
});

/** sh -c: start a setsid'd sleeper that inherits our stdout/stderr, record its pid, then `rest`. */
function wrapper(rest: string): string[] {
  const pidFile = join(dir, "sleeper.pid");
  return ["-c", `setsid sh -c 'echo $$ > "${pidFile}"; exec sleep 300' & ${rest}`];
}

async function sleeperPid(): Promise<number> {
  const file = join(dir, "sleeper.pid");
  const text = await waitFor(async () => (await readFile(file, "utf8").catch(() => "")).trim(), 5_000);
  const pid = Number(text);
  sleepers.push(pid);
  return pid;
}

describe("a descendant that escaped the process group", () => {
  it("the turn settles on the agent's exit: output drained, pipes closed, the answer kept", async () => {
    const run = await runProcess({
      command: "sh",
      args: wrapper('sleep 0.2; echo "the answer"; exit 0'),
      cwd: dir,
      env: process.env,
      stdin: "",
      timeoutMs: 60_000,
      drainMs: 200,
    });
    const sleeper = await sleeperPid();
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("the answer");
    expect(run.timedOut).toBe(false);
    expect(run.outputHeld).toBe(true);
    // Knowingly left: it escaped the group, so it is not ours to end (the test ends it).
    expect(isRunning(sleeper)).toBe(true);
  });

  it("the turn timeout still bounds a hanging agent whose escaped child holds the pipes", async () => {
    const run = await runProcess({
      command: "sh",
      args: wrapper("sleep 300"),
      cwd: dir,
      env: process.env,
      stdin: "",
      timeoutMs: 300,
      killGraceMs: 200,
      drainMs: 100,
    });
    await sleeperPid();
    expect(run.timedOut).toBe(true);
    expect(run.outputHeld).toBe(true);
    expect(run.unreaped).toBeUndefined();
  });

  it("an agent without escapees settles on its pipes closing, as before (no drain wait, no flag)", async () => {
    const run = await runProcess({
      command: "sh",
      args: ["-c", "echo hi"],
      cwd: dir,
      env: process.env,
      stdin: "",
      timeoutMs: 10_000,
      drainMs: 60_000,
    });
    expect(run.stdout.trim()).toBe("hi");
    expect(run.outputHeld).toBeUndefined();
  });
});
