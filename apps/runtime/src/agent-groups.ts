import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, writeFileAtomicSync } from "@molecule/internal";
import * as z from "zod";
import type { AgentGroupListener } from "./executors/process.js";
import type { Logger } from "./logger.js";

/**
 * Agents never outlive the daemon that started them. Each agent runs in a process group of its own
 * (executors/process.ts); that group — its id and its leader's start time — is recorded in
 * `<state dir>/agents.json` while it runs. A daemon killed with -9 cannot end its agents, so the
 * next boot does, before it serves: a recorded group whose leader is still the same process (same
 * start time in /proc, so a reused pid is never touched) gets SIGTERM, then SIGKILL.
 * @internal
 */

export const AGENTS_FILE = "agents.json";

const GroupRecordSchema = z.object({
  /** The process group id (= the agent's pid: it leads its group). */
  pgid: z.number().int().positive(),
  /** The leader's start time, in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: z.string().regex(/^\d+$/),
  /** The daemon that started it. */
  daemon: z.object({ pid: z.number().int().positive(), start: z.string() }),
});
type GroupRecord = z.infer<typeof GroupRecordSchema>;
const RecordFile = z.object({ version: z.literal(1), agents: z.array(GroupRecordSchema) });

/** What one process looks like in /proc: its group and its start time. */
export interface ProcStat {
  pid: number;
  pgrp: number;
  start: string;
  zombie: boolean;
}

/** Where processes are read from and signalled (tests pass a fake /proc root). */
export interface ProcessTable {
  /** One process's stat, or undefined when there is none (or no /proc). */
  stat(pid: number): ProcStat | undefined;
  /** Every process. */
  list(): ProcStat[];
  /** `process.kill(-pgid, signal)`; false when nothing was there. */
  killGroup(pgid: number, signal: NodeJS.Signals): boolean;
}

/** Parses /proc/<pid>/stat: the command name may hold spaces and parentheses, so fields count from the last ")". */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return undefined;
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state); pgrp is field 5, starttime field 22.
  const state = fields[0];
  const pgrp = Number(fields[2]);
  const start = fields[19];
  if (!state || !Number.isInteger(pgrp) || !start || !/^\d+$/.test(start)) return undefined;
  return { pid, pgrp, start, zombie: state === "Z" || state === "X" };
}

export function procTable(root = "/proc"): ProcessTable {
  const stat = (pid: number) => {
    try {
      return parseProcStat(readFileSync(join(root, String(pid), "stat"), "utf8"));
    } catch {
      return undefined;
    }
  };
  return {
    stat,
    list() {
      let names: string[];
      try {
        names = readdirSync(root);
      } catch {
        return [];
      }
      const out: ProcStat[] = [];
      for (const name of names) {
        if (!/^\d+$/.test(name)) continue;
        const entry = stat(Number(name));
        if (entry) out.push(entry);
      }
      return out;
    },
    killGroup(pgid, signal) {
      try {
        process.kill(-pgid, signal);
        return true;
      } catch {
        return false;
      }
    },
  };
}

export interface AgentGroups extends AgentGroupListener {
  /**
   * Ends the agents a previous daemon left running (boot, before serving). Resolves with how many
   * groups were ended and how many survived even SIGKILL (a process stuck in the kernel).
   */
  reapLeftovers(): Promise<{ ended: number; survivors: number }>;
}

export interface AgentGroupsOptions {
  stateDir: string;
  log: Logger;
  /** Told when the record cannot be written (a full or read-only state volume) and when it can again. */
  onWriteError?: (error: unknown) => void;
  onWriteOk?: () => void;
  procs?: ProcessTable;
  /** After SIGTERM, how long leftovers get before SIGKILL (default 1 000 ms). */
  termGraceMs?: number;
  /** How long to wait for the groups to be gone after SIGKILL (default 3 000 ms). */
  killWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent-group record of this daemon and the boot-time reaper of the previous one's. @internal */
export function createAgentGroups(options: AgentGroupsOptions): AgentGroups {
  const { stateDir, log } = options;
  const file = join(stateDir, AGENTS_FILE);
  const procs = options.procs ?? procTable();
  const self = procs.stat(process.pid);
  const daemon = { pid: process.pid, start: self?.start ?? "unknown" };
  const live = new Map<number, GroupRecord>();
  /** Records of a previous daemon that could not be ended (kept in the file for the next boot). */
  let inherited: GroupRecord[] = [];
  let failing = false;

  const write = () => {
    const agents = [...inherited, ...live.values()];
    try {
      // Synchronous: the record is on disk before the turn goes on (a kill -9 can come at any time).
      writeFileAtomicSync(file, `${JSON.stringify({ version: 1, agents })}\n`, { mode: 0o600, dirMode: 0o700 });
      if (failing) {
        failing = false;
        options.onWriteOk?.();
      }
    } catch (error) {
      if (!failing) {
        failing = true;
        log.error(
          { event: "agents.record_write_failed", file, err: errnoCode(error) ?? String(error) },
          "cannot record the agent's process group; a kill -9 of the daemon now could leave the agent running",
        );
      }
      options.onWriteError?.(error);
    }
  };

  /** Members of the recorded group still alive (the leader, or — if it is gone — whoever remains in its group). */
  const aliveMembers = (record: GroupRecord, table: ProcStat[]): ProcStat[] => {
    const leader = table.find((p) => p.pid === record.pgid);
    if (leader && leader.start !== record.start) return []; // the pid was reused: not ours
    return table.filter(
      (p) => p.pgrp === record.pgid && !p.zombie && BigInt(p.start) >= BigInt(record.start) && p.pid !== process.pid,
    );
  };

  /** The records with members still alive: one read of the process table for all of them. */
  const stillAlive = (records: GroupRecord[]): GroupRecord[] => {
    const table = procs.list();
    return records.filter((r) => aliveMembers(r, table).length > 0);
  };

  /** Signals each group, then polls until none is alive or `waitMs` has passed; the survivors. */
  const signalAndWait = async (records: GroupRecord[], signal: NodeJS.Signals, waitMs: number) => {
    for (const r of records) procs.killGroup(r.pgid, signal);
    let pending = records;
    const end = Date.now() + waitMs;
    while (Date.now() < end && pending.length > 0) {
      await sleep(50);
      pending = stillAlive(pending);
    }
    return pending;
  };

  return {
    started(pgid) {
      const stat = procs.stat(pgid);
      // Gone already (it exited at once), or no /proc (not Linux): nothing that could be verified later.
      if (!stat) return;
      live.set(pgid, { pgid, start: stat.start, daemon });
      write();
    },
    ended(pgid) {
      if (!live.delete(pgid)) return;
      write();
    },
    async reapLeftovers() {
      let records: GroupRecord[] = [];
      try {
        const parsed = RecordFile.safeParse(JSON.parse(await readFile(file, "utf8")));
        if (parsed.success) records = parsed.data.agents;
        else log.warn({ event: "agents.record_corrupt", file }, "the agent-group record is unreadable; ignoring it");
      } catch (error) {
        if (errnoCode(error) !== "ENOENT") {
          log.warn({ event: "agents.record_corrupt", file, err: String(error) }, "cannot read the agent-group record");
        }
      }
      // A record of this very process (another runtime in it) is alive by design.
      records = records.filter((r) => !(r.daemon.pid === daemon.pid && r.daemon.start === daemon.start));
      let pending = stillAlive(records);
      const ended = pending.length;
      if (pending.length > 0) {
        log.warn(
          { event: "agents.leftover", groups: pending.map((r) => r.pgid) },
          "agents of a previous daemon (killed without a shutdown) are still running; ending them before serving",
        );
        pending = await signalAndWait(pending, "SIGTERM", options.termGraceMs ?? 1_000);
        pending = await signalAndWait(pending, "SIGKILL", options.killWaitMs ?? 3_000);
      }
      inherited = pending;
      if (records.length > 0 || live.size > 0) write();
      if (pending.length > 0) {
        log.error(
          { event: "agents.leftover_survived", groups: pending.map((r) => r.pgid) },
          "agents of a previous daemon survived SIGKILL; their sessions are not resumed",
        );
      } else if (ended > 0) {
        log.info({ event: "agents.leftover_ended", groups: ended }, "ended the previous daemon's agents");
      }
      return { ended: ended - pending.length, survivors: pending.length };
    },
  };
}
