import { type LogSink, sinkLogger } from "@molecule/test-support";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHeartbeat, type Heartbeat, type OutageRecoveredEvent, type WorkspaceUnknownEvent } from "../index.js";
import { advanceTo, createRig, heartbeatOptions, INTERVAL, type Rig, stopAll } from "../test-support.js";

const t0 = 1_700_000_000_000;

let rig: Rig;
let log: LogSink;
const started: Heartbeat[] = [];

function heartbeat(): Heartbeat {
  const hb = createHeartbeat(heartbeatOptions(rig, { logger: log.logger }));
  started.push(hb);
  return hb;
}
const busyOf = (hb: Heartbeat) => () => hb.stats().inFlight > 0;

beforeEach(async () => {
  resetWedgeForTests();
  rig = await createRig();
  log = sinkLogger({ now: () => rig.clock.now() });
});
afterEach(async () => {
  await stopAll(started, rig);
  await rig.close();
});

describe("after an outage shorter than the TTL", () => {
  it("the platform's view of us is checked on the first good beat, not the 5th", async () => {
    const hb = heartbeat();
    const recovered: OutageRecoveredEvent[] = [];
    hb.onOutageRecovered((event) => recovered.push(event));
    hb.start();
    await advanceTo(rig.clock, t0, busyOf(hb));
    // The platform restarts without our record: one beat fails, the next ones are 200 again.
    rig.platform.control.forget(rig.workspaceId);
    rig.platform.control.failNext("heartbeat", { status: 503 });
    await advanceTo(rig.clock, t0 + INTERVAL, busyOf(hb));
    expect(hb.stats().consecutiveFailures).toBe(1);
    await advanceTo(rig.clock, t0 + INTERVAL + 20_000, busyOf(hb)); // the backoff retry succeeds
    expect(hb.stats().beatsOk).toBe(2);
    await rig.platform.control.waitFor(() => recovered.length === 1);
    expect(recovered).toEqual([{ reason: "platform-lost", platformStatus: "not-found" }]);
    expect(rig.platform.control.requests("workspace")).toHaveLength(1);
  });
});

describe("secrets in the platform's answer", () => {
  it("an error body that echoes our token (bare or as Bearer) is masked in the log and in lastError", async () => {
    const token = rig.platform.control.token(rig.workspaceId);
    expect(token).toBeTruthy();
    const hb = heartbeat();
    rig.platform.control.failNext("heartbeat", {
      status: 500,
      body: { error: `bad header Authorization: Bearer ${token}; token=${token}; key sk-ant-api03-abcdefghijkl` },
    });
    hb.start();
    await advanceTo(rig.clock, t0, busyOf(hb));
    const failed = log.lines.find((l) => l.obj.event === "heartbeat.failed");
    expect(String(failed?.obj.err)).toContain("HTTP 500");
    expect(log.text()).not.toContain(String(token));
    expect(log.text()).not.toContain("abcdefghijkl");
    expect(hb.stats().lastError).toContain("[redacted]");
    expect(hb.stats().lastError).not.toContain(String(token));
  });

  it("secret shapes it was not sent (a JWT, an sk- key, a secret-named assignment) are masked too", async () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3b3Jrc3BhY2UifQ.c2lnbmF0dXJlLXBhcnQ";
    const hb = heartbeat();
    rig.platform.control.failNext("heartbeat", {
      status: 500,
      body: { error: `id ${jwt} key sk-proj1234567890abcdefghij api_key=hunter2hunter2` },
    });
    hb.start();
    await advanceTo(rig.clock, t0, busyOf(hb));
    const lastError = String(hb.stats().lastError);
    expect(lastError).toContain("HTTP 500");
    for (const secret of [jwt, "sk-proj1234567890abcdefghij", "hunter2hunter2"]) {
      expect(lastError).not.toContain(secret);
      expect(log.text()).not.toContain(secret);
    }
  });
});

describe("a workspace the platform does not know (heartbeat 404 `workspace not found`)", () => {
  const TTL = 180_000;
  const CAP = TTL / 3; // the backoff cap while lost: a third of the TTL, never below the interval

  it("one WARN when it starts and one past the TTL, an event on every 404 at the backoff's pace; a good beat restores", async () => {
    await rig.close();
    rig = await createRig({ unknownHeartbeat: "not-found" });
    log = sinkLogger({ now: () => rig.clock.now() });
    const hb = createHeartbeat(heartbeatOptions(rig, { logger: log.logger, ttlMs: TTL }));
    started.push(hb);
    const unknown: WorkspaceUnknownEvent[] = [];
    hb.onWorkspaceUnknown((event) => unknown.push(event));
    const start = rig.clock.now();
    hb.start();
    await advanceTo(rig.clock, start, busyOf(hb));
    expect(hb.stats().beatsOk).toBe(1);

    rig.platform.control.forget(rig.workspaceId); // deleted on the platform
    const first = start + INTERVAL;
    await advanceTo(rig.clock, first, busyOf(hb));
    expect(hb.stats()).toMatchObject({
      notFoundStreak: 1,
      notFoundSince: first,
      workspaceLost: false,
      lastStatus: 404,
    });
    expect(unknown).toEqual([{ workspaceId: rig.workspaceId, streak: 1, since: first, lost: false }]);

    // Within the TTL: backoff from 1 s, doubling, capped at the interval — not one beat per interval tick.
    await advanceTo(rig.clock, first + TTL - 1, busyOf(hb));
    const beforeTtl = rig.platform.control.beats(rig.workspaceId).filter((b) => b.status === 404);
    const gaps = beforeTtl.slice(1).map((b, i) => b.at - (beforeTtl[i]?.at ?? 0));
    expect(gaps.slice(0, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, INTERVAL]);
    expect(hb.stats().workspaceLost).toBe(false);

    // Past the TTL: lost (readiness reads it), and the beats slow to the cap.
    await advanceTo(rig.clock, first + TTL + 4 * CAP, busyOf(hb));
    expect(hb.stats().workspaceLost).toBe(true);
    const afterTtl = rig.platform.control.beats(rig.workspaceId).filter((b) => b.at >= first + TTL);
    for (let i = 1; i < afterTtl.length; i += 1) {
      expect((afterTtl[i]?.at ?? 0) - (afterTtl[i - 1]?.at ?? 0)).toBe(CAP);
    }
    expect(afterTtl.length).toBeGreaterThanOrEqual(3);
    expect(unknown.length).toBe(beforeTtl.length + afterTtl.length);
    expect(unknown.at(-1)).toMatchObject({ lost: true, since: first });

    const warns = log.lines.filter((l) => l.level === "warn").map((l) => l.obj.event);
    expect(warns).toEqual(["heartbeat.workspace_unknown", "heartbeat.workspace_lost"]);
    const lostLine = log.lines.find((l) => l.obj.event === "heartbeat.workspace_lost");
    expect(lostLine?.msg).toContain("beating every 60 s");

    // Re-registered (the daemon does it on the event): the next beat gets through and all is as before.
    expect(await rig.register()).toBe(200);
    const recovered = await hb.beatNow("re-registered");
    expect(recovered).toMatchObject({ ok: true, status: 200 });
    expect(hb.stats()).toMatchObject({ notFoundStreak: 0, notFoundSince: undefined, workspaceLost: false });
    expect(log.lines.filter((l) => l.obj.event === "heartbeat.workspace_known")).toHaveLength(1);
    // Back to the period: the pending slow retry is replaced by the next regular beat.
    const at = rig.clock.now();
    const count = rig.platform.control.beats(rig.workspaceId).length;
    await advanceTo(rig.clock, at + INTERVAL, busyOf(hb));
    expect(rig.platform.control.beats(rig.workspaceId).length).toBe(count + 1);
    expect(rig.platform.control.beats(rig.workspaceId).at(-1)).toMatchObject({ at: at + INTERVAL, status: 200 });
  });
});
