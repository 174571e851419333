import { randomUUID } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { IS_ROOT, isRunning, mountSmallVolume, type SmallVolume, waitFor } from "@molecule/test-support";
import { type DelegationRow, fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import {
  type Daemon,
  getJson,
  killPids,
  metricValue,
  onCleanup,
  plantTranscript,
  postRaw,
  processesIn,
  replyText,
  sendMessage,
  startDaemon,
} from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// Issue 11: what an operator's worst day brings — a full state volume, kill -9, an agent whose child
// escapes its process group. Each against the built daemon.
const e2e = e2eSuite("molecule-e2e-faults-");

async function fake(behaviour: Parameters<typeof fakeAgentCli>[0]["behaviour"] = "ok"): Promise<string> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour, reply: "done" });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  return cli;
}

const ready = (d: Daemon) => d.waitForLog((l) => l.event === "runtime.ready");

/** A 64 KiB tmpfs as the daemon's state dir (root only), unmounted after the test. */
function smallStateVolume(): { volume: () => SmallVolume; beforeStart: (dirs: { stateDir: string }) => Promise<void> } {
  let volume: SmallVolume | undefined;
  return {
    volume: () => {
      if (!volume) throw new Error("the volume is mounted when the daemon starts");
      return volume;
    },
    async beforeStart({ stateDir }) {
      const mounted = await mountSmallVolume(stateDir);
      volume = mounted;
      onCleanup(() => mounted.unmount());
    },
  };
}

describe.runIf(IS_ROOT)(
  "a full state volume (a 64 KiB tmpfs; root — the logic also runs without root in the package tests)",
  () => {
    it("1a: delegation results under ENOSPC are neither torn nor lost: every one is delivered once space is back", async () => {
      const cli = await fake();
      const state = smallStateVolume();
      const d = await startDaemon({
        platform: e2e.platform,
        config: { runtime_config: { command: cli }, delegation: { poll_interval_seconds: 0.3 } },
        beforeStart: state.beforeStart,
      });
      await ready(d);
      await state.volume().fill(5_000); // room for about two and a half results
      const rows: DelegationRow[] = Array.from({ length: 6 }, (_, i) => ({
        id: randomUUID(),
        delegation_id: `d-${i}`,
        source_id: d.id,
        target_id: randomUUID(),
        summary: `result ${i} ${"z".repeat(1_500)}`,
        status: "completed",
        created_at: `2026-01-01T00:00:0${i}Z`,
      }));
      e2e.platform.control.setDelegations(d.id, rows);
      await d.waitForLog((l) => l.event === "delegation.append_failed");
      await state.volume().free();
      await d.waitForLog((l) => l.event === "delegation.delivered", 20_000);
      const text = await readFile(join(d.stateDir, "delegation_results.jsonl"), "utf8");
      expect(text.endsWith("\n")).toBe(true);
      const ids = text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { delegation_id: string }).delegation_id);
      expect(ids.sort()).toEqual(rows.map((r) => r.delegation_id).sort());
      const metrics = (await getJson(d, "/metrics")).text;
      expect(metricValue(metrics, "molecule_delegations_delivered_total")).toBe(6);
    });

    it("1b: a session store that cannot be written: the good answer is delivered, the failure is visible, and it heals", async () => {
      const cli = await fake();
      const state = smallStateVolume();
      const d = await startDaemon({
        platform: e2e.platform,
        config: { runtime_config: { command: cli } },
        beforeStart: state.beforeStart,
      });
      await ready(d);
      await state.volume().fill(); // before the first turn: removing a session file later would free a page
      // Before: recordTurn threw and the turn was reported as `crash`; the answer was thrown away.
      expect(replyText(await sendMessage(d, "hello"))).toBe("done");
      const failed = await d.waitForLog((l) => l.event === "state.write_failed");
      expect(failed.level).toBe("error");
      expect(failed.code).toBe("ENOSPC");
      const readyz = await getJson<{ ready: boolean; warnings?: string[] }>(d, "/readyz");
      expect(readyz.status).toBe(200); // still answering: it must not drop out of its Service
      // The session store, the agent-group record (written when the agent started) and the task records all refused.
      expect(readyz.json.warnings?.sort()).toEqual([
        "state volume failing: agent record (ENOSPC)",
        "state volume failing: session (ENOSPC)",
        "state volume failing: task records (ENOSPC)",
      ]);
      const metrics = (await getJson(d, "/metrics")).text;
      expect(metricValue(metrics, "molecule_state_write_failures_total", 'what="session"')).toBeGreaterThanOrEqual(1);
      expect(metricValue(metrics, "molecule_state_volume_failing")).toBe(1);
      expect(metricValue(metrics, "molecule_turns_total", 'outcome="crash"')).toBeUndefined();
      await waitFor(() => e2e.platform.workspaces.get(d.id)?.sampleError.startsWith("state volume failing"), 10_000);

      await state.volume().free();
      const session = (await readFakeAgentCalls(cli)).at(-1)?.sessionId;
      expect(session).toBeTruthy();
      await plantTranscript(d, String(session)); // so the remembered id is resumable
      expect(replyText(await sendMessage(d, "again"))).toBe("done");
      // The id the full disk refused was kept in memory: the next turn resumed it.
      expect((await readFakeAgentCalls(cli)).at(-1)?.resume).toBe(session);
      await d.waitForLog((l) => l.event === "state.write_recovered" && l.what === "session", 10_000);
      await waitFor(async () => (await getJson<{ warnings?: string[] }>(d, "/readyz")).json.warnings === undefined);
      expect(JSON.parse(await readFile(join(d.stateDir, "session.json"), "utf8")).sessionId).toBe(session);
    });
  },
);

describe("kill -9 of the daemon mid-turn", () => {
  it("2: the restarted daemon ends the orphaned agent before serving, and the conversation resumes intact", async () => {
    const cli = await fake(["ok", "hang", "ok"]);
    const a = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } } });
    await ready(a);
    expect(replyText(await sendMessage(a, "first"))).toBe("done");
    const s1 = (await readFakeAgentCalls(cli)).at(-1)?.sessionId;
    await plantTranscript(a, String(s1));
    void sendMessage(a, "second: hangs", { messageId: "m-hangs" }).catch(() => undefined);
    await waitFor(async () => (await readFakeAgentCalls(cli)).filter((c) => c.kind === "turn").length === 2, 10_000);
    const hanging = (await readFakeAgentCalls(cli)).at(-1)?.pid ?? 0;
    a.child.kill("SIGKILL");
    await a.exited;
    // The fault: the agent outlived its daemon.
    expect(isRunning(hanging)).toBe(true);
    const record = JSON.parse(await readFile(join(a.stateDir, "agents.json"), "utf8"));
    expect(record.agents.map((r: { pgid: number }) => r.pgid)).toEqual([hanging]);

    const b = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: cli } },
      restartOf: a,
    });
    // Ended before serving: the listening line comes after it.
    const ended = await b.waitForLog((l) => l.event === "agents.leftover_ended");
    expect(b.logs.indexOf(ended)).toBeLessThan(b.logs.findIndex((l) => l.event === "a2a.listening"));
    expect(isRunning(hanging)).toBe(false);
    expect(processesIn(b.workspaceDir)).toEqual([]);
    await ready(b);
    expect(replyText(await sendMessage(b, "third"))).toBe("done");
    // History intact: the third turn resumed the session the first one started.
    expect((await readFakeAgentCalls(cli)).at(-1)?.resume).toBe(s1);
    const metrics = (await getJson(b, "/metrics")).text;
    expect(metricValue(metrics, "molecule_agents_reaped_total")).toBe(1);
    // The task the kill cut off is remembered: failed, interrupted, in both protocol versions.
    for (const method of ["tasks/get", "GetTask"]) {
      const got = await rpc(b, method, { id: "m-hangs" });
      expect(got.error).toBeUndefined();
      expect(got.result).toMatchObject({ id: "m-hangs", metadata: { outcome: "interrupted" } });
      expect(JSON.stringify(got.result)).toContain("interrupted: the workspace restarted");
    }
    // Not a turn outcome: the restarted daemon counted only the third turn.
    expect(metrics.split("\n").filter((l) => l.startsWith("molecule_turns_total{"))).toEqual([
      'molecule_turns_total{outcome="ok"} 1',
    ]);
  });
});

/** One JSON-RPC call to the daemon's A2A endpoint. */
async function rpc(d: Daemon, method: string, params: unknown): Promise<{ result?: unknown; error?: unknown }> {
  const res = await postRaw(d, JSON.stringify({ jsonrpc: "2.0", id: randomUUID(), method, params }));
  return res.json as { result?: unknown; error?: unknown };
}

describe.runIf(IS_ROOT)("the task records on a full state volume (a 64 KiB tmpfs; root)", () => {
  it("1c: an append torn by ENOSPC is cut back; turns answer from memory; once space is back the records heal and a restart knows every task", async () => {
    const cli = await fake();
    const state = smallStateVolume();
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: cli } },
      beforeStart: state.beforeStart,
    });
    await ready(d);
    const file = join(d.stateDir, "tasks.jsonl");
    expect(replyText(await sendMessage(d, "first", { messageId: "m-1" }))).toBe("done");
    await waitFor(async () => (await readFile(file, "utf8").catch(() => "")).includes('"completed"'), 10_000);
    await state.volume().fill(); // only the slack of the records file's last page is left
    // A record far larger than that slack (and than a page or two another writer may free meanwhile):
    // the append is torn by ENOSPC.
    expect(replyText(await sendMessage(d, `second ${"x".repeat(40_000)}`, { messageId: "m-2" }))).toBe("done");
    const failed = await d.waitForLog((l) => l.event === "state.write_failed" && l.what === "task records");
    expect(failed.code).toBe("ENOSPC");
    // Served from memory meanwhile; the file has no torn line.
    expect((await rpc(d, "tasks/get", { id: "m-2" })).result).toMatchObject({ status: { state: "completed" } });
    for (const line of (await readFile(file, "utf8")).split("\n").filter((l) => l !== "")) JSON.parse(line);
    await state.volume().free();
    expect(replyText(await sendMessage(d, "third", { messageId: "m-3" }))).toBe("done");
    await d.waitForLog((l) => l.event === "state.write_recovered" && l.what === "task records", 10_000);
    d.child.kill("SIGTERM");
    await d.exited;

    const b = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } }, restartOf: d });
    await ready(b);
    expect(b.logs.some((l) => l.code === "W_TASKS_FILE_CORRUPT")).toBe(false);
    for (const id of ["m-1", "m-2", "m-3"]) {
      expect((await rpc(b, "tasks/get", { id })).result).toMatchObject({ id, status: { state: "completed" } });
    }
  });
});

describe("an agent whose child escapes its process group", () => {
  /** A command agent that starts a `setsid` sleeper holding stdout/stderr, then answers (or hangs). */
  async function escapingAgent(rest: string): Promise<{ command: string; sleeperPid: () => Promise<number> }> {
    const pidFile = join(e2e.tmp, "sleeper.pid");
    const command = join(e2e.tmp, "escaping-agent");
    await writeFile(
      command,
      `#!/bin/sh\n[ "$1" = "--version" ] && { echo "1.0.0"; exit 0; }\nsetsid sh -c 'echo $$ > "${pidFile}"; exec sleep 300' &\n${rest}\n`,
    );
    await chmod(command, 0o755);
    const sleeperPid = async () =>
      Number(await waitFor(async () => (await readFile(pidFile, "utf8").catch(() => "")).trim()));
    // The test ends its sleeper itself: the daemon knowingly leaves a process that left the group.
    onCleanup(async () => {
      const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
      if (pid > 0) killPids([pid]);
    });
    return { command, sleeperPid };
  }

  it("3: the turn settles on the agent's exit: the answer arrives although the escaped child keeps the pipes open", async () => {
    const agent = await escapingAgent('cat > /dev/null; echo "the answer"; exit 0');
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime: "command", runtime_config: { command: agent.command, timeout: 300 } },
    });
    await ready(d);
    // Before: `close` never came, the turn never ended and the only slot stayed blocked.
    expect(replyText(await sendMessage(d, "question"))).toBe("the answer");
    expect(isRunning(await agent.sleeperPid())).toBe(true); // left, knowingly
    expect(replyText(await sendMessage(d, "the slot is free again"))).toBe("the answer");
  });

  it("3: the turn timeout bounds a hanging agent whose escaped child holds the pipes", async () => {
    const agent = await escapingAgent("cat > /dev/null; sleep 300");
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime: "command", runtime_config: { command: agent.command, timeout: 1 } },
    });
    await ready(d);
    const rpc = await sendMessage(d, "question");
    expect(rpc.error?.data?.outcome).toBe("timeout");
    await agent.sleeperPid();
  });
});
