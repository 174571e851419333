import { randomUUID } from "node:crypto";
import { clearWedge, markWedged } from "@molecule/wedge";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHeartbeat, type Heartbeat, type HeartbeatOptions } from "../index.js";
import { advanceTo, createRig, heartbeatOptions, INTERVAL, idle, type Rig, seeded, stopAll } from "../test-support.js";

// A fleet started in the same millisecond must not herd: the beat phase, the every-n-th platform
// check, the re-register after a long outage and the check after a recovery are spread per loop;
// what must be prompt (a wedge, a rotated token) still goes at once.
const t0 = 1_700_000_000_000;

let rig: Rig;
const started: Heartbeat[] = [];

interface Loop {
  id: string;
  hb: Heartbeat;
  /** Clock times of its onOutageRecovered calls. */
  recovered: number[];
}

function fleet(size: number, overrides: Partial<HeartbeatOptions> = {}): Loop[] {
  const loops: Loop[] = [];
  for (let i = 0; i < size; i += 1) {
    const id = randomUUID();
    rig.platform.control.seed(id); // known to the platform, so its check finds it
    const hb = createHeartbeat(
      heartbeatOptions(rig, { workspaceId: id, jitter: 0.1, random: seeded(500 + i), ...overrides }),
    );
    const loop: Loop = { id, hb, recovered: [] };
    hb.onOutageRecovered(() => loop.recovered.push(rig.clock.now()));
    started.push(hb);
    loops.push(loop);
  }
  return loops;
}
const busyOf = (loops: Loop[]) => () => loops.some(({ hb }) => hb.stats().inFlight > 0);
const checksOf = (id: string) =>
  rig.platform.control.requests("workspace").filter((r) => r.path === `/workspaces/${encodeURIComponent(id)}`);
const goodBeatsOf = (id: string, from: number) =>
  rig.platform.control.beats(id).filter((b) => b.status === 200 && b.at >= from);

/** Every third of [0, INTERVAL) holds at least one of `offsets`, and they are not all alike. */
function expectSpreadOverInterval(offsets: number[]) {
  for (const ms of offsets) {
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(INTERVAL);
  }
  for (const third of [0, 1, 2]) {
    const lo = (third * INTERVAL) / 3;
    expect(offsets.some((ms) => ms >= lo && ms < lo + INTERVAL / 3)).toBe(true);
  }
  expect(new Set(offsets).size).toBeGreaterThan(offsets.length / 2);
}

beforeEach(async () => {
  resetWedgeForTests();
  rig = await createRig();
});
afterEach(async () => {
  await stopAll(started, rig);
  resetWedgeForTests();
  await rig.close();
});

describe("a fleet started together is de-phased", () => {
  it("100 loops: the first beats at once, the next ones cover the interval, the every-5th check falls on each of the 5 beats", async () => {
    const loops = fleet(100);
    for (const { hb } of loops) await hb.start();
    await advanceTo(rig.clock, t0 + 6 * INTERVAL, busyOf(loops));
    const second: number[] = [];
    const checkedOnBeat = new Map<number, number>();
    for (const { id } of loops) {
      const beats = rig.platform.control.beats(id);
      expect(beats[0]?.at).toBe(t0);
      second.push((beats[1]?.at ?? Number.NaN) - t0);
      const firstCheck = checksOf(id)[0];
      expect(firstCheck).toBeDefined();
      // the beat that carried it: the check goes right after that beat, at the same clock time
      const beatNumber = beats.filter((b) => b.at <= (firstCheck?.at ?? 0)).length;
      expect(beatNumber).toBeGreaterThanOrEqual(1);
      expect(beatNumber).toBeLessThanOrEqual(5);
      checkedOnBeat.set(beatNumber, (checkedOnBeat.get(beatNumber) ?? 0) + 1);
    }
    // every tenth of the interval holds some second beats (100 loops, uniform phases)
    for (let tenth = 0; tenth < 10; tenth += 1) {
      const lo = (tenth * INTERVAL) / 10;
      expect(second.some((ms) => ms >= lo && ms < lo + INTERVAL / 10)).toBe(true);
    }
    expect([...checkedOnBeat.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    for (const count of checkedOnBeat.values()) expect(count).toBeLessThan(40); // never most of the fleet
  });

  it("jitter 0 is exact timing: the check on every 5th beat, no phase", async () => {
    const loops = fleet(5, { jitter: 0 });
    for (const { hb } of loops) await hb.start();
    await advanceTo(rig.clock, t0 + 5 * INTERVAL, busyOf(loops));
    for (const { id } of loops) {
      expect(rig.platform.control.beats(id).map((b) => b.at - t0)).toEqual([0, 1, 2, 3, 4, 5].map((n) => n * INTERVAL));
      expect(checksOf(id).map((r) => r.at - t0)).toEqual([4 * INTERVAL]);
    }
  });
});

describe("after an outage the fleet recovers without a herd", () => {
  it("longer than the TTL: each loop's onOutageRecovered is called at an offset within one interval of its first good beat", async () => {
    const loops = fleet(30, { ttlMs: 90_000 });
    for (const { hb } of loops) await hb.start();
    await advanceTo(rig.clock, t0 + INTERVAL, busyOf(loops));
    await rig.platform.control.down();
    await advanceTo(rig.clock, t0 + 150_000, busyOf(loops));
    for (const loop of loops) expect(loop.recovered).toEqual([]);
    await rig.platform.control.up();
    const upAt = rig.clock.now();
    await advanceTo(rig.clock, upAt + 3 * INTERVAL, busyOf(loops));
    const offsets: number[] = [];
    for (const { id, recovered } of loops) {
      const firstGood = goodBeatsOf(id, upAt)[0];
      expect(firstGood).toBeDefined();
      expect(recovered).toHaveLength(1);
      offsets.push((recovered[0] ?? 0) - (firstGood?.at ?? 0));
    }
    expectSpreadOverInterval(offsets);
  });

  it("shorter than the TTL: the platform check after the first good beat is spread over the next interval", async () => {
    const loops = fleet(30, { platformCheckEvery: 1_000 }); // only the post-recovery check
    for (const { hb } of loops) await hb.start();
    await advanceTo(rig.clock, t0 + INTERVAL, busyOf(loops));
    await rig.platform.control.down();
    await advanceTo(rig.clock, t0 + INTERVAL + 40_000, busyOf(loops)); // every loop fails at least once
    await rig.platform.control.up();
    const upAt = rig.clock.now();
    await advanceTo(rig.clock, upAt + 3 * INTERVAL, busyOf(loops));
    const offsets: number[] = [];
    for (const { id, recovered } of loops) {
      const firstGood = goodBeatsOf(id, upAt)[0];
      const checks = checksOf(id);
      expect(firstGood).toBeDefined();
      expect(checks).toHaveLength(1);
      offsets.push((checks[0]?.at ?? 0) - (firstGood?.at ?? 0));
      expect(recovered).toEqual([]); // the platform still knows it: nothing to re-register
    }
    expectSpreadOverInterval(offsets);
  });

  it("stop() drops a pending spread call: no listener after stop, no timer left", async () => {
    const [loop] = fleet(1, { ttlMs: 90_000, random: () => 0.9 });
    if (!loop) throw new Error("no loop");
    await loop.hb.start();
    await advanceTo(rig.clock, t0 + INTERVAL, busyOf([loop]));
    await rig.platform.control.down();
    await advanceTo(rig.clock, t0 + 150_000, busyOf([loop]));
    await rig.platform.control.up();
    const upAt = rig.clock.now();
    // past the first good beat, before its re-register offset (0.9 × INTERVAL)
    await advanceTo(rig.clock, (goodBeatsOf(loop.id, upAt)[0]?.at ?? upAt + INTERVAL) + 1, busyOf([loop]));
    await rig.platform.control.waitFor(() => goodBeatsOf(loop.id, upAt).length > 0);
    expect(loop.recovered).toEqual([]);
    await stopAll(started, rig);
    expect(rig.clock.nextDueAt()).toBeUndefined();
    await rig.clock.advance(2 * INTERVAL);
    expect(loop.recovered).toEqual([]);
  });
});

describe("what must be prompt is never spread", () => {
  it("a wedge reaches the platform at once, before any tick", async () => {
    const [loop] = fleet(1);
    if (!loop) throw new Error("no loop");
    await loop.hb.start();
    await idle(busyOf([loop]));
    markWedged("agent stuck — restart workspace");
    await rig.platform.control.waitFor(() => rig.platform.control.beats(loop.id).length === 2);
    expect(rig.clock.now()).toBe(t0);
    expect(rig.platform.control.beats(loop.id)[1]?.body).toMatchObject({ runtime_state: "wedged" });
    clearWedge();
  });

  it("a rotated token reaches the platform at once with zero 401s", async () => {
    await rig.close();
    rig = await createRig({ watch: true });
    const hb = createHeartbeat(heartbeatOptions(rig, { jitter: 0.1, random: seeded(3) }));
    started.push(hb);
    await hb.start();
    await idle(() => hb.stats().inFlight > 0);
    const fresh = rig.platform.control.rotateToken(rig.workspaceId, { writeTo: rig.tokens.file });
    const beats = () => rig.platform.control.beats(rig.workspaceId);
    await rig.platform.control.waitFor(() => beats().some((b) => b.token === fresh && b.status === 200));
    expect(rig.clock.now()).toBe(t0);
    expect(beats().filter((b) => b.status === 401)).toHaveLength(0);
  });
});
