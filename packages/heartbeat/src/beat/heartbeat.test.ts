import { randomUUID } from "node:crypto";
import { type LogSink, sinkLogger } from "@molecule/test-support";
import { clearWedge, markWedged } from "@molecule/wedge";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createHeartbeat,
  createTaskTracker,
  type Heartbeat,
  HeartbeatError,
  type HeartbeatOptions,
  type OutageRecoveredEvent,
  type TaskTracker,
} from "../index.js";
import {
  advanceTo,
  createRig,
  heartbeatOptions,
  INTERVAL,
  idle,
  METADATA,
  type Rig,
  seeded,
  stopAll,
} from "../test-support.js";

let rig: Rig;
let tasks: TaskTracker;
let log: LogSink;
const started: Heartbeat[] = [];

function heartbeat(overrides: Partial<HeartbeatOptions> = {}): Heartbeat {
  const hb = createHeartbeat(heartbeatOptions(rig, { tasks, logger: log.logger, ...overrides }));
  started.push(hb);
  return hb;
}

const busyOf = (hb: Heartbeat) => () => hb.stats().inFlight > 0;
const beats = () => rig.platform.control.beats(rig.workspaceId);
const t0 = () => 1_700_000_000_000;
const at = (ms: number) => t0() + ms;

async function setup(options: { watch?: boolean; orgId?: string } = {}) {
  rig = await createRig(options);
  tasks = createTaskTracker({ clock: rig.clock });
  log = sinkLogger({ now: () => rig.clock.now() });
}

beforeEach(() => resetWedgeForTests());
afterEach(async () => {
  await stopAll(started, rig);
  resetWedgeForTests();
  await rig?.close();
});

describe("createHeartbeat: the body and the schedule", () => {
  beforeEach(() => setup());

  it("beats at once on start with the full body, then every interval (jitter 0 = exact period)", async () => {
    const hb = heartbeat();
    hb.start();
    await advanceTo(rig.clock, at(3 * INTERVAL), busyOf(hb));
    const got = beats();
    expect(got.map((b) => b.at - t0())).toEqual([0, 30_000, 60_000, 90_000]);
    expect(got.map((b) => b.status)).toEqual([200, 200, 200, 200]);
    expect(got[0]?.body).toEqual({
      workspace_id: rig.workspaceId,
      error_rate: 0,
      sample_error: "",
      active_tasks: 0,
      current_task: "",
      uptime_seconds: 0,
      runtime_metadata: METADATA,
    });
    expect(got.map((b) => b.body.uptime_seconds)).toEqual([0, 30, 60, 90]);
    expect(got[1]?.headers.authorization).toBe(`Bearer ${rig.platform.control.token(rig.workspaceId)}`);
    expect(hb.stats()).toMatchObject({ beatsOk: 4, beatsFailed: 0, consecutiveFailures: 0, lastStatus: 200 });
    expect(hb.stats().lastSuccessAt).toBe(at(90_000));
  });

  it("spreads instances started in the same millisecond over the whole interval", async () => {
    const fleet: Array<{ hb: Heartbeat; id: string }> = [];
    for (let i = 0; i < 20; i += 1) {
      const id = randomUUID(); // unknown ids are answered 200 too; each instance is told apart by its id
      fleet.push({ id, hb: heartbeat({ workspaceId: id, jitter: 0.1, random: seeded(1_000 + i) }) });
    }
    for (const { hb } of fleet) hb.start();
    const busy = () => fleet.some(({ hb }) => hb.stats().inFlight > 0);
    await advanceTo(rig.clock, at(INTERVAL), busy);
    const second: number[] = [];
    for (const { id } of fleet) {
      const got = rig.platform.control.beats(id);
      expect(got[0]?.at).toBe(t0()); // the first beat at once
      second.push((got[1]?.at ?? Number.NaN) - t0());
    }
    expect(new Set(second).size).toBe(20);
    for (const ms of second) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(INTERVAL);
    }
    // uniform over [0, interval): every third of the interval holds some of them
    for (const third of [0, 1, 2]) {
      expect(second.some((ms) => ms >= third * 10_000 && ms < (third + 1) * 10_000)).toBe(true);
    }
  });

  it("later beats land at interval × (1 ± jitter)", async () => {
    const hb = heartbeat({ jitter: 0.1, random: seeded(7) });
    hb.start();
    await advanceTo(rig.clock, at(10 * INTERVAL), busyOf(hb));
    const times = beats().map((b) => b.at - t0());
    const gaps = times.slice(2).map((t, i) => t - (times[i + 1] ?? 0));
    expect(gaps.length).toBeGreaterThan(5);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(27_000);
      expect(gap).toBeLessThanOrEqual(33_000);
    }
    expect(new Set(gaps).size).toBeGreaterThan(1); // not lock-step
  });

  it("refuses bad options with E_HEARTBEAT_BAD_OPTION", () => {
    const base = {
      platformUrl: rig.platform.url,
      workspaceId: rig.workspaceId,
      tokens: rig.tokens,
      metadata: () => METADATA,
      tasks,
    };
    for (const bad of [
      { platformUrl: "ftp://x" },
      { platformUrl: "not a url" },
      { workspaceId: " " },
      { jitter: 1 },
      { jitter: -0.1 },
      { intervalMs: 0 },
      { platformCheckEvery: 0 },
    ]) {
      let caught: unknown;
      try {
        createHeartbeat({ ...base, ...bad });
      } catch (error) {
        caught = error;
      }
      expect(HeartbeatError.isInstance(caught)).toBe(true);
      expect((caught as HeartbeatError).code).toBe("E_HEARTBEAT_BAD_OPTION");
    }
  });
});

describe("immediate beats on state change", () => {
  beforeEach(() => setup());

  it("(1) wedge marked → a wedged beat arrives before the next tick, platform degraded; cleared → online", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    expect(rig.platform.control.status(rig.workspaceId)).toBe("online");

    markWedged("claude-code init timeout — restart workspace");
    await rig.platform.control.waitFor(() => rig.platform.control.status(rig.workspaceId) === "degraded");
    expect(rig.clock.now()).toBe(t0()); // the clock has not moved: no tick was needed
    const wedgedBeat = beats()[1];
    expect(wedgedBeat?.body).toMatchObject({
      runtime_state: "wedged",
      sample_error: "claude-code init timeout — restart workspace",
      runtime_metadata: METADATA,
    });
    expect(wedgedBeat?.body.uptime_seconds).toBeGreaterThanOrEqual(1); // never 0 in a later push

    clearWedge();
    await advanceTo(rig.clock, at(250), busyOf(hb)); // at most one immediate beat per 250 ms
    await rig.platform.control.waitFor(() => rig.platform.control.status(rig.workspaceId) === "online");
    expect(rig.clock.now()).toBeLessThan(at(INTERVAL));
    const statusEvents = rig.platform.events
      .filter((e) => e.workspaceId === rig.workspaceId && e.type !== "WORKSPACE_HEARTBEAT" && e.type !== "TASK_UPDATED")
      .map((e) => e.type);
    expect(statusEvents).toEqual(["WORKSPACE_ONLINE", "WORKSPACE_DEGRADED", "WORKSPACE_ONLINE"]);
    expect(beats().map((b) => b.body.runtime_state ?? "")).toEqual(["", "wedged", ""]);
    expect(beats().every((b) => b.body.runtime_metadata !== undefined)).toBe(true);
  });

  it("every push while wedged carries runtime_state, periodic ones included", async () => {
    const hb = heartbeat();
    markWedged("stuck");
    hb.start();
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    expect(beats().map((b) => b.body.runtime_state)).toEqual(["wedged", "wedged", "wedged"]);
    expect(rig.platform.control.status(rig.workspaceId)).toBe("degraded");
  });

  it("task start/end beats at once; a burst is coalesced into one beat now and one 250 ms later", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    const dones = [1, 2, 3, 4, 5].map((n) => tasks.start(`task ${n}`));
    await rig.platform.control.waitFor(() => beats().length === 2);
    await idle(busyOf(hb));
    expect(beats()).toHaveLength(2); // not one per change
    expect(beats()[1]?.body.active_tasks).toBe(1);
    await advanceTo(rig.clock, at(250), busyOf(hb));
    expect(beats()).toHaveLength(3);
    expect(beats()[2]?.body).toMatchObject({ active_tasks: 5, current_task: "task 5" });
    expect(rig.platform.workspaces.get(rig.workspaceId)?.currentTask).toBe("task 5");

    for (const done of dones) done("crash", "agent crashed");
    await advanceTo(rig.clock, at(500), busyOf(hb));
    expect(beats().at(-1)?.body).toMatchObject({ active_tasks: 0, error_rate: 1, sample_error: "agent crashed" });
    expect(rig.platform.control.status(rig.workspaceId)).toBe("degraded"); // error_rate ≥ 0.5
    expect(hb.stats().immediateBeats).toBe(3);
  });

  it("beatNow(reason) sends the full body and reports the outcome", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    await rig.clock.advance(1_000);
    const result = await hb.beatNow("operator");
    expect(result).toEqual({ ok: true, status: 200 });
    expect(beats().at(-1)?.body).toMatchObject({ runtime_metadata: METADATA, uptime_seconds: 1 });
  });

  it("beatNow works without start() (the operator CLI) and never starts the loop", async () => {
    const hb = heartbeat();
    const result = await hb.beatNow("heartbeat --once");
    expect(result.ok).toBe(true);
    await advanceTo(rig.clock, at(3 * INTERVAL), busyOf(hb));
    expect(beats()).toHaveLength(1);
  });
});

describe("token rotation and 401", () => {
  it("(2a) rotated token written at once → the new token reaches the platform before the next tick, zero 401s", async () => {
    await setup({ watch: true });
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    const fresh = rig.platform.control.rotateToken(rig.workspaceId, { writeTo: rig.tokens.file });
    await rig.platform.control.waitFor(() => beats().some((b) => b.token === fresh && b.status === 200));
    await idle(busyOf(hb));
    expect(rig.clock.now()).toBe(t0());
    expect(beats().filter((b) => b.status === 401)).toHaveLength(0);
    expect(hb.stats()).toMatchObject({ beatsFailed: 0, unauthorizedStreak: 0 });
  });

  it("(2b) file written 2 intervals late → one 401 per tick until then, then a good beat right after the write", async () => {
    await setup({ watch: true });
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    const fresh = rig.platform.control.rotateToken(rig.workspaceId, {
      writeTo: rig.tokens.file,
      delayMs: 2 * INTERVAL + 1_000,
    });
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    expect(beats().map((b) => [b.at - t0(), b.status])).toEqual([
      [0, 200],
      [30_000, 401],
      [60_000, 401],
    ]);
    expect(hb.stats()).toMatchObject({ unauthorizedStreak: 2, lastStatus: 401 });

    await advanceTo(rig.clock, at(2 * INTERVAL + 1_000), busyOf(hb)); // the provisioner writes the file now
    await rig.platform.control.waitFor(() => beats().some((b) => b.token === fresh && b.status === 200));
    await idle(busyOf(hb));
    expect(rig.clock.now()).toBe(at(61_000)); // no tick needed
    expect(beats().map((b) => [b.at - t0(), b.status])).toEqual([
      [0, 200],
      [30_000, 401],
      [60_000, 401],
      [61_000, 200],
    ]);
    expect(hb.stats()).toMatchObject({ unauthorizedStreak: 0, consecutiveFailures: 0 });
  });

  it("401 after a rotation while the beat was in flight: one retry at once with the new token, nothing else", async () => {
    await setup({ watch: true });
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    const old = rig.platform.control.token(rig.workspaceId);
    rig.platform.control.latency("heartbeat", 300); // real ms: the beat is in flight when the token rotates
    await rig.clock.advance(INTERVAL);
    await rig.platform.control.waitFor(() => beats().length === 2);
    const fresh = rig.platform.control.rotateToken(rig.workspaceId, { writeTo: rig.tokens.file });
    await rig.platform.control.waitFor(() => hb.stats().beatsOk === 2);
    await idle(busyOf(hb));
    rig.platform.control.latency("heartbeat", 0);
    await advanceTo(rig.clock, at(INTERVAL + 1_000), busyOf(hb));
    expect(
      beats().map((b) => [b.at - t0(), b.status, b.token === fresh ? "new" : b.token === old ? "old" : "?"]),
    ).toEqual([
      [0, 200, "old"],
      [30_000, 401, "old"],
      [30_000, 200, "new"],
    ]); // the beat, its one retry, and nothing else: the rotation's own beat was skipped
    expect(hb.stats()).toMatchObject({ beatsOk: 2, beatsFailed: 0, unauthorizedStreak: 0 }); // the retry made the beat
    expect(hb.stats().skippedBeats).toBe(1);
  });

  it("3 consecutive 401s → one ERROR naming the workspace and the fix, repeated every 20 beats; 5xx do not count", async () => {
    await setup();
    const hb = heartbeat();
    const streaks: number[] = [];
    hb.onUnauthorizedStreak((event) => streaks.push(event.streak));
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.rotateToken(rig.workspaceId); // revoked: the file keeps the old token
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    rig.platform.control.failNext("heartbeat", { status: 503 });
    await advanceTo(rig.clock, at(3 * INTERVAL), busyOf(hb)); // the 503
    expect(hb.stats().unauthorizedStreak).toBe(2);
    expect(log.lines.filter((e) => e.level === "error")).toHaveLength(0);
    await advanceTo(rig.clock, at(3 * INTERVAL + 1_000), busyOf(hb)); // after its 1 s backoff: 401 #3
    expect(hb.stats().unauthorizedStreak).toBe(3);
    const errors = () => log.lines.filter((e) => e.level === "error");
    expect(errors()).toHaveLength(1);
    expect(errors()[0]?.obj).toMatchObject({ event: "heartbeat.unauthorized_streak", workspaceId: rig.workspaceId });
    expect(errors()[0]?.msg).toContain(rig.workspaceId);
    expect(errors()[0]?.msg).toContain("token revoked or workspace removed; re-provision or re-register");
    expect(streaks).toEqual([3]);

    await advanceTo(rig.clock, rig.clock.now() + 19 * INTERVAL, busyOf(hb)); // 401 #22
    expect(hb.stats().unauthorizedStreak).toBe(22);
    expect(errors()).toHaveLength(1);
    await advanceTo(rig.clock, rig.clock.now() + INTERVAL, busyOf(hb)); // 401 #23
    expect(errors()).toHaveLength(2);
    expect(streaks).toEqual([3, 23]);
    // one 401 per tick, never a retry loop
    const unauthorized = beats().filter((b) => b.status === 401);
    expect(unauthorized).toHaveLength(23);
    const secret = rig.platform.control.token(rig.workspaceId) ?? "";
    const old = beats()[0]?.token ?? "";
    expect(JSON.stringify(log.lines)).not.toContain(secret);
    expect(JSON.stringify(log.lines)).not.toContain(old);
  });
});

describe("failures and backoff", () => {
  beforeEach(() => setup());

  it("(3) platform down for 10 intervals → exactly the attempts the backoff allows, then recovery and a re-register", async () => {
    const hb = heartbeat();
    const recovered: OutageRecoveredEvent[] = [];
    const registering: Array<Promise<number>> = [];
    hb.onOutageRecovered((event) => {
      recovered.push(event);
      registering.push(rig.register()); // what the daemon does
    });
    hb.start();
    await idle(busyOf(hb));
    await rig.platform.control.down();
    await advanceTo(rig.clock, at(10 * INTERVAL), busyOf(hb));
    const attempts = log.lines.filter((e) => e.obj.event === "heartbeat.failed").map((e) => (e.at - t0()) / 1_000);
    // first failure at the 30 s tick, then 1, 2, 4, 8, 16 s, then capped at the interval
    expect(attempts).toEqual([30, 31, 33, 37, 45, 61, 91, 121, 151, 181, 211, 241, 271]);
    expect(hb.stats()).toMatchObject({ beatsOk: 1, beatsFailed: 13, consecutiveFailures: 13, unauthorizedStreak: 0 });
    expect(hb.stats().lastStatus).toBeUndefined();
    expect(hb.stats().clientRebuilds).toBe(4); // after every 3rd transport error, no attempt skipped
    expect(rig.platform.control.status(rig.workspaceId)).toBe("offline"); // its liveness record expired
    expect(recovered).toHaveLength(0);

    await rig.platform.control.up();
    await advanceTo(rig.clock, at(301_000), busyOf(hb));
    expect(beats().map((b) => b.at - t0())).toEqual([0, 301_000]);
    expect(recovered).toEqual([{ reason: "outage", downMs: 301_000 }]);
    await rig.platform.control.waitFor(() => registering.length === 1);
    expect(await Promise.all(registering)).toEqual([200]);
    expect(rig.platform.control.registrations(rig.workspaceId)).toHaveLength(2);
    await rig.platform.control.waitFor(() => rig.platform.workspaces.get(rig.workspaceId)?.liveUntil);
    expect(rig.platform.control.status(rig.workspaceId)).toBe("online");
    expect(hb.stats()).toMatchObject({ consecutiveFailures: 0, beatsOk: 2 });
    // back on the normal period
    await advanceTo(rig.clock, at(331_000), busyOf(hb));
    expect(beats().map((b) => b.at - t0())).toEqual([0, 301_000, 331_000]);
  });

  it("(4) 500s for 3 intervals → counted as failures, then a success resets every counter", async () => {
    const hb = heartbeat();
    const recovered: OutageRecoveredEvent[] = [];
    hb.onOutageRecovered((event) => recovered.push(event));
    hb.start();
    await idle(busyOf(hb));
    // the attempts within [30 s, 120 s): 30, 31, 33, 37, 45, 61, 91
    rig.platform.control.failNext("heartbeat", { status: 500, times: 7 });
    await advanceTo(rig.clock, at(4 * INTERVAL), busyOf(hb));
    expect(beats().map((b) => [(b.at - t0()) / 1_000, b.status])).toEqual([
      [0, 200],
      [30, 500],
      [31, 500],
      [33, 500],
      [37, 500],
      [45, 500],
      [61, 500],
      [91, 500],
    ]);
    expect(hb.stats()).toMatchObject({
      beatsFailed: 7,
      consecutiveFailures: 7,
      lastStatus: 500,
      unauthorizedStreak: 0,
    });
    expect(hb.stats().lastError).toContain("500");
    await advanceTo(rig.clock, at(121_000), busyOf(hb));
    expect(hb.stats()).toMatchObject({ beatsOk: 2, beatsFailed: 7, consecutiveFailures: 0, lastStatus: 200 });
    expect(hb.stats().lastSuccessAt).toBe(at(121_000));
    expect(recovered).toHaveLength(0); // 91 s < TTL
    // and the backoff starts from 1 s again
    rig.platform.control.failNext("heartbeat", { status: 502 });
    await advanceTo(rig.clock, at(152_000), busyOf(hb));
    expect(
      beats()
        .slice(-2)
        .map((b) => [(b.at - t0()) / 1_000, b.status]),
    ).toEqual([
      [151, 502],
      [152, 200],
    ]);
  });

  it("a state change during backoff adds no attempt: the next backoff attempt carries it", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { status: 500 });
    await advanceTo(rig.clock, at(INTERVAL), busyOf(hb));
    markWedged("stuck");
    tasks.start("a turn");
    await idle(busyOf(hb));
    expect(beats()).toHaveLength(2);
    await advanceTo(rig.clock, at(INTERVAL + 1_000), busyOf(hb));
    expect(beats().map((b) => [(b.at - t0()) / 1_000, b.status, b.body.runtime_state ?? ""])).toEqual([
      [0, 200, ""],
      [30, 500, ""],
      [31, 200, "wedged"],
    ]);
    expect(beats()[2]?.body.active_tasks).toBe(1);
  });

  it("429 honours a larger Retry-After (up to the interval)", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { status: 429, retryAfterSeconds: 7 });
    rig.platform.control.failNext("heartbeat", { status: 429, retryAfterSeconds: 600 });
    await advanceTo(rig.clock, at(100_000), busyOf(hb));
    expect(beats().map((b) => [(b.at - t0()) / 1_000, b.status])).toEqual([
      [0, 200],
      [30, 429],
      [37, 429],
      [67, 200],
      [97, 200],
    ]);
  });

  it("a timeout is a failed beat that backs off", async () => {
    const hb = heartbeat({ requestTimeoutMs: 5_000 });
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { hang: true });
    await rig.clock.advance(INTERVAL);
    await rig.platform.control.waitFor(() => beats().length === 2);
    expect(hb.stats().inFlight).toBe(1);
    await rig.clock.advance(5_000); // the request timeout (clock-driven)
    await idle(busyOf(hb));
    expect(hb.stats()).toMatchObject({ beatsFailed: 1, consecutiveFailures: 1 });
    expect(hb.stats().lastError).toContain("timeout");
    await advanceTo(rig.clock, at(36_000), busyOf(hb));
    expect(beats().at(-1)?.status).toBe(200);
    expect(beats().at(-1)?.at).toBe(at(36_000));
  });

  it("a 4xx is a failed beat (never success) and waits for the next tick", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { status: 400 });
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    expect(beats().map((b) => [(b.at - t0()) / 1_000, b.status])).toEqual([
      [0, 200],
      [30, 400],
      [60, 200],
    ]);
    expect(hb.stats()).toMatchObject({ beatsOk: 2, beatsFailed: 1 });
  });

  it("a reset connection is retried once on a fresh connection before it counts as a failure", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { reset: true });
    await advanceTo(rig.clock, at(INTERVAL), busyOf(hb));
    expect(beats().map((b) => [(b.at - t0()) / 1_000, b.status, b.injected])).toEqual([
      [0, 200, null],
      [30, 0, "reset"],
      [30, 200, null],
    ]);
    expect(hb.stats()).toMatchObject({ beatsOk: 2, beatsFailed: 0 });

    rig.platform.control.failNext("heartbeat", { reset: true, times: 2 });
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    expect(hb.stats()).toMatchObject({ beatsFailed: 1, consecutiveFailures: 1 });
    expect(beats().filter((b) => b.at === at(2 * INTERVAL))).toHaveLength(2); // one retry only
  });
});

describe("the platform's view of us", () => {
  beforeEach(() => setup());

  it("(6) the platform forgets the workspace (beats still 200) → re-register within 5 beats", async () => {
    const hb = heartbeat();
    const recovered: OutageRecoveredEvent[] = [];
    const registering: Array<Promise<number>> = [];
    hb.onOutageRecovered((event) => {
      recovered.push(event);
      registering.push(rig.register()); // what the daemon does
    });
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.forget(rig.workspaceId);
    await advanceTo(rig.clock, at(4 * INTERVAL), busyOf(hb));
    await rig.platform.control.waitFor(() => registering.length === 1);
    expect(await Promise.all(registering)).toEqual([200]);
    expect(rig.platform.control.registrations(rig.workspaceId)).toHaveLength(2);
    const lostBeats = beats().filter((b) => b.at > t0());
    expect(lostBeats.length).toBeLessThanOrEqual(5);
    expect(lostBeats.every((b) => b.status === 200)).toBe(true);
    expect(recovered).toEqual([{ reason: "platform-lost", platformStatus: "not-found" }]);
    expect(hb.stats().platformStatus).toBe("not-found");
    expect(rig.platform.control.status(rig.workspaceId)).toBe("online");
    // the re-registered workspace gets beats again; the next check sees it online
    await advanceTo(rig.clock, at(9 * INTERVAL), busyOf(hb));
    expect(hb.stats().platformStatus).toBe("online");
    expect(recovered).toHaveLength(1);
  });

  it("an offline status from GET /workspaces/:id fires the hook too; the check uses no token", async () => {
    const hb = heartbeat({ platformCheckEvery: 2 });
    const recovered: OutageRecoveredEvent[] = [];
    hb.onOutageRecovered((event) => recovered.push(event));
    hb.start();
    rig.platform.control.failNext("workspace", {
      status: 200,
      body: { id: rig.workspaceId, name: "x", status: "offline", parent_id: null },
    });
    await advanceTo(rig.clock, at(INTERVAL), busyOf(hb));
    expect(recovered).toEqual([{ reason: "platform-lost", platformStatus: "offline" }]);
    const checks = rig.platform.control.requests("workspace");
    expect(checks).toHaveLength(1);
    expect(checks[0]?.headers.authorization).toBeUndefined();
  });
});

describe("multi-tenant platform", () => {
  it("sends X-Molecule-Org-Id on beats and on the platform check, so the check does not misread a 404", async () => {
    await setup({ orgId: "org-7" });
    const hb = heartbeat({ platformCheckEvery: 1 });
    const recovered: OutageRecoveredEvent[] = [];
    hb.onOutageRecovered((event) => recovered.push(event));
    hb.start();
    await advanceTo(rig.clock, at(INTERVAL), busyOf(hb));
    expect(beats().every((b) => b.headers["x-molecule-org-id"] === "org-7")).toBe(true);
    const checks = rig.platform.control.requests("workspace");
    expect(checks.map((c) => [c.status, c.headers["x-molecule-org-id"]])).toEqual([
      [200, "org-7"],
      [200, "org-7"],
    ]);
    expect(hb.stats().platformStatus).toBe("online");
    expect(recovered).toHaveLength(0);
  });
});

describe("metadata", () => {
  beforeEach(() => setup());

  it("a throwing metadata callback is logged once and the last good runtime_metadata is sent", async () => {
    let fail = false;
    const hb = heartbeat({
      metadata: () => {
        if (fail) throw new Error("config reload in progress");
        return METADATA;
      },
    });
    hb.start();
    await idle(busyOf(hb));
    fail = true;
    await advanceTo(rig.clock, at(2 * INTERVAL), busyOf(hb));
    expect(beats().map((b) => b.body.runtime_metadata)).toEqual([METADATA, METADATA, METADATA]);
    expect(log.lines.filter((e) => e.obj.event === "heartbeat.metadata_failed")).toHaveLength(1);
  });
});

describe("stop()", () => {
  beforeEach(() => setup());

  it("sends one final beat with active_tasks 0 and leaves no timer behind", async () => {
    const hb = heartbeat();
    tasks.start("long turn");
    hb.start();
    await idle(busyOf(hb));
    await rig.clock.advance(5_000);
    await hb.stop();
    expect(hb.stats().inFlight).toBe(0);
    expect(beats().at(-1)?.body).toMatchObject({ active_tasks: 0, current_task: "", runtime_metadata: METADATA });
    const count = beats().length;
    tasks.start("after stop");
    markWedged("after stop");
    await advanceTo(rig.clock, at(10 * INTERVAL), busyOf(hb));
    expect(beats()).toHaveLength(count);
    expect(hb.stats().running).toBe(false);
  });

  it("the final beat is bounded by 2 s against a hung platform", async () => {
    const hb = heartbeat();
    hb.start();
    await idle(busyOf(hb));
    rig.platform.control.failNext("heartbeat", { hang: true });
    let done = false;
    const stopping = hb.stop().then(() => {
      done = true;
    });
    await rig.platform.control.waitFor(() => beats().length === 2);
    await rig.clock.advance(1_999);
    expect(done).toBe(false);
    await rig.clock.advance(1);
    await stopping;
    expect(done).toBe(true);
    expect(hb.stats().inFlight).toBe(0);
  });
});
