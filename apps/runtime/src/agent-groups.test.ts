import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isRunning, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENTS_FILE, createAgentGroups, parseProcStat, procTable } from "./agent-groups.js";

let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await tempDir("agent-groups-");
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await removeDir(dir);
});

/** An "agent" as a daemon starts it: its own process group, ignoring SIGTERM, never exiting. */
function agent(): number {
  const child = spawn(process.execPath, ["-e", "process.on('SIGTERM',()=>{});setInterval(()=>{},1<<30)"], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  children.push(child);
  if (child.pid === undefined) throw new Error("spawn failed");
  return child.pid;
}

/** The record a daemon that has since been killed with -9 left behind. */
async function recordOfDeadDaemon(entries: Array<{ pgid: number; start: string }>) {
  const agents = entries.map((e) => ({ ...e, daemon: { pid: 999_999, start: "1" } }));
  await writeFile(join(dir, AGENTS_FILE), JSON.stringify({ version: 1, agents }));
}

const startOf = (pid: number) => {
  const stat = procTable().stat(pid);
  if (!stat) throw new Error(`no /proc entry for ${pid}`);
  return stat.start;
};

describe("agent process groups survive no daemon", () => {
  it("boot ends a recorded agent of a daemon that was killed with -9 (SIGTERM ignored → SIGKILL)", async () => {
    const pid = agent();
    await recordOfDeadDaemon([{ pgid: pid, start: startOf(pid) }]);
    const log = sinkLogger();
    const groups = createAgentGroups({ stateDir: dir, log: log.logger, termGraceMs: 200 });
    expect(await groups.reapLeftovers()).toEqual({ ended: 1, survivors: 0 });
    expect(isRunning(pid)).toBe(false);
    expect(log.events()).toEqual(["agents.leftover", "agents.leftover_ended"]);
    // The record is rewritten without it.
    expect(JSON.parse(await readFile(join(dir, AGENTS_FILE), "utf8")).agents).toEqual([]);
  });

  it("a pid reused by another process (other start time) is never signalled", async () => {
    const pid = agent();
    await recordOfDeadDaemon([{ pgid: pid, start: String(BigInt(startOf(pid)) - 1n) }]);
    const groups = createAgentGroups({ stateDir: dir, log: sinkLogger().logger, termGraceMs: 100 });
    expect(await groups.reapLeftovers()).toEqual({ ended: 0, survivors: 0 });
    expect(isRunning(pid)).toBe(true);
  });

  it("started/ended keep the record current, with the leader's start time", async () => {
    const pid = agent();
    const groups = createAgentGroups({ stateDir: dir, log: sinkLogger().logger });
    groups.started(pid);
    const record = JSON.parse(await readFile(join(dir, AGENTS_FILE), "utf8"));
    expect(record.agents).toEqual([
      { pgid: pid, start: startOf(pid), daemon: { pid: process.pid, start: startOf(process.pid) } },
    ]);
    groups.ended(pid);
    expect(JSON.parse(await readFile(join(dir, AGENTS_FILE), "utf8")).agents).toEqual([]);
  });

  it("this process's own live agents are not leftovers (another runtime in the same process)", async () => {
    const pid = agent();
    createAgentGroups({ stateDir: dir, log: sinkLogger().logger }).started(pid);
    const again = createAgentGroups({ stateDir: dir, log: sinkLogger().logger });
    expect(await again.reapLeftovers()).toEqual({ ended: 0, survivors: 0 });
    expect(isRunning(pid)).toBe(true);
  });

  it("a record that cannot be written is reported, and the agent still runs (no root needed: ENOTDIR)", async () => {
    const pid = agent();
    const stateDir = join(dir, "not-a-dir");
    await writeFile(stateDir, "a file where the state dir should be");
    const errors: unknown[] = [];
    const log = sinkLogger();
    const groups = createAgentGroups({ stateDir, log: log.logger, onWriteError: (e) => errors.push(e) });
    groups.started(pid);
    groups.ended(pid);
    expect(errors).toHaveLength(2);
    expect(log.events()).toEqual(["agents.record_write_failed"]); // once per failing spell
    expect(isRunning(pid)).toBe(true);
  });

  it("an unkillable leftover is reported as a survivor (a fake /proc that never lets it go)", async () => {
    const stat = { pid: 4242, pgrp: 4242, start: "777", zombie: false };
    const signals: string[] = [];
    const groups = createAgentGroups({
      stateDir: dir,
      log: sinkLogger().logger,
      termGraceMs: 50,
      killWaitMs: 100,
      procs: {
        stat: (pid) => (pid === 4242 ? stat : undefined),
        list: () => [stat],
        killGroup: (pgid, signal) => {
          signals.push(`${pgid}:${signal}`);
          return true;
        },
      },
    });
    await recordOfDeadDaemon([{ pgid: 4242, start: "777" }]);
    expect(await groups.reapLeftovers()).toEqual({ ended: 0, survivors: 1 });
    expect(signals).toEqual(["4242:SIGTERM", "4242:SIGKILL"]);
    // Kept in the record: the next boot tries again.
    const record = JSON.parse(await readFile(join(dir, AGENTS_FILE), "utf8"));
    expect(record.agents.map((a: { pgid: number }) => a.pgid)).toEqual([4242]);
  });

  it("parses /proc/<pid>/stat whose command name holds spaces and parentheses", () => {
    const line = "123 (my (odd) agent) S 1 120 120 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
    expect(parseProcStat(line)).toEqual({ pid: 123, pgrp: 120, start: "98765", zombie: false });
    expect(parseProcStat("garbage")).toBeUndefined();
  });
});
