// Issue 21 items 5 and 6 against the built daemon: what the platform answers never puts the workspace
// token on stderr or in a log line, and a workspace the platform forgot is registered again — with
// backoff, one WARN per state change, readiness down only once that has lasted longer than the TTL.
import { fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import { type Daemon, getJson, killPids, onCleanup, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// A platform that deleted a workspace answers its heartbeats 404 "workspace not found".
const e2e = e2eSuite("molecule-e2e-platform-faults-", { unknownHeartbeat: "not-found" });

async function fake(): Promise<string> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour: "ok", reply: "done" });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  return cli;
}

/** A token as the platform issues them: 32 random bytes, base64url (43 characters). */
const TOKEN = "Zq3xV9kPq2Lm8Rt5Yw1Nc7Bd4Hf6Gj0Ks2Ua9Ee3IoP";

const warns = (d: Daemon, event: string) => d.logs.filter((l) => l.level === "warn" && l.event === event);
const readyz = (d: Daemon) => getJson<{ ready: boolean; reasons?: string[] }>(d, "/readyz");

describe("item 5: a register answer that fails validation never quotes a token", () => {
  it.each([
    ["a 5 MB 200 carrying a token", { status: "registered", auth_token: TOKEN, padding: "x".repeat(5_000_000) }],
    ["a token straddling the quoted excerpt's end", { note: "n".repeat(50), v: TOKEN }],
    ["a token in a field of no secret name", { state: "ok", data: { value: TOKEN } }],
  ])("%s: exit 1, the error names the platform, the token is in no line", async (_name, body) => {
    e2e.platform.control.failNext("register", { status: 200, body });
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: await fake() } } });
    expect((await d.exited).code).toBe(1);
    const stderr = d.stderr();
    expect(stderr).toContain("E_REGISTER_REJECTED");
    expect(stderr).toContain(`the platform at PLATFORM_URL (${e2e.platform.url})`);
    expect(stderr).not.toContain("proxy");
    for (const part of [TOKEN, TOKEN.slice(0, 8), TOKEN.slice(-8)]) {
      expect(stderr).not.toContain(part);
      expect(JSON.stringify(d.logs)).not.toContain(part);
    }
  });

  it("the 5 MB answer is refused by its size, unread, and the error says the token it carried is lost", async () => {
    e2e.platform.control.failNext("register", {
      status: 200,
      body: { status: "registered", auth_token: TOKEN, padding: "x".repeat(5_000_000) },
    });
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: await fake() } } });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain("over the 65536-byte limit; not read");
    expect(d.stderr()).toContain("was not saved: revoke the workspace's token on the platform");
  });
});

describe("item 6: heartbeats answered 404 `workspace not found`", () => {
  const config = async () => ({
    runtime_config: { command: await fake() },
    heartbeat: { interval_seconds: 0.5, jitter: 0, ttl_seconds: 3 },
  });

  it("deleted and recreated: it registers again at once, readiness never drops, one WARN", async () => {
    const d = await startDaemon({ platform: e2e.platform, config: await config() });
    await d.waitForLog((l) => l.event === "runtime.ready");
    const registrations = e2e.platform.control.registrations(d.id).length;
    e2e.platform.control.forget(d.id);
    await d.waitForLog((l) => l.event === "heartbeat.workspace_known", 15_000);
    expect(e2e.platform.control.registrations(d.id).length).toBeGreaterThan(registrations);
    expect(e2e.platform.control.status(d.id)).toBe("online");
    expect((await readyz(d)).status).toBe(200);
    expect(warns(d, "heartbeat.workspace_unknown")).toHaveLength(1);
    expect(warns(d, "heartbeat.failed")).toHaveLength(0);
    // It keeps beating on the period with the token the new registration issued.
    const at = e2e.platform.control.beats(d.id).length;
    await e2e.platform.control.waitFor(() => e2e.platform.control.beats(d.id).length >= at + 3, 5_000);
    expect(
      e2e.platform.control
        .beats(d.id)
        .slice(at)
        .map((b) => b.status),
    ).toEqual([200, 200, 200]);
    expect(e2e.platform.control.beats(d.id).at(-1)?.token).toBe(e2e.platform.control.token(d.id));
  });

  it("not re-created for longer than the TTL: not ready with the reason, beats slow to the cap, one WARN per state change; a re-register restores it", async () => {
    const d = await startDaemon({ platform: e2e.platform, config: await config() });
    await d.waitForLog((l) => l.event === "runtime.ready");
    expect((await readyz(d)).status).toBe(200);
    // Deleted, and the platform refuses to register it again for its next 12 attempts.
    e2e.platform.control.failNext("register", { status: 404, body: { error: "workspace not found" }, times: 12 });
    const forgotAt = Date.now();
    e2e.platform.control.forget(d.id);

    const down = await e2e.platform.control.waitFor(async () => {
      const probe = await readyz(d);
      return probe.status === 503 ? probe : undefined;
    }, 20_000);
    expect(Date.now() - forgotAt).toBeGreaterThanOrEqual(2_500); // not before the TTL (3 s)
    expect(down.json.reasons?.join("\n")).toContain('heartbeats answered 404 "workspace not found"');
    expect(down.json.reasons?.join("\n")).toContain("check WORKSPACE_ID");

    // Recovery: the 13th register is accepted, the next beat goes through, readiness comes back.
    await e2e.platform.control.waitFor(async () => (await readyz(d)).status === 200, 30_000);
    await d.waitForLog((l) => l.event === "heartbeat.workspace_known");
    expect(e2e.platform.control.status(d.id)).toBe("online");

    const notFound = e2e.platform.control.beats(d.id).filter((b) => b.status === 404);
    const lostAt = Number(new Date(String(d.logs.find((l) => l.event === "heartbeat.workspace_lost")?.time)));
    const slow = notFound.filter((b) => b.at > lostAt);
    const gaps = slow.slice(1).map((b, i) => b.at - (slow[i]?.at ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(900); // the cap: TTL / 3 = 1 s (the interval is 0.5 s)
    // One WARN per state change, not per beat: unknown, lost, the first refusal.
    expect(warns(d, "heartbeat.workspace_unknown")).toHaveLength(1);
    expect(warns(d, "heartbeat.workspace_lost")).toHaveLength(1);
    expect(warns(d, "register.rejoin_refused")).toHaveLength(1);
    expect(warns(d, "heartbeat.failed")).toHaveLength(0);
    expect(notFound.length).toBeGreaterThan(8);
  });
});
