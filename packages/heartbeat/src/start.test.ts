import { type LogSink, sinkLogger } from "@molecule/test-support";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createDelegationPoller,
  createHeartbeat,
  createTaskTracker,
  defaultCapabilities,
  type Heartbeat,
  HeartbeatError,
  type RuntimeMetadata,
} from "./index.js";
import { advanceTo, createRig, heartbeatOptions, INTERVAL, idle, METADATA, type Rig, stopAll } from "./test-support.js";

let rig: Rig;
let log: LogSink;
const started: Heartbeat[] = [];

beforeEach(async () => {
  resetWedgeForTests();
  rig = await createRig();
  log = sinkLogger({ now: () => rig.clock.now() });
});
afterEach(async () => {
  await stopAll(started, rig);
  await rig.close();
});

function heartbeat(metadata: () => unknown): Heartbeat {
  const hb = createHeartbeat(
    heartbeatOptions(rig, {
      // What a plain-JS caller can pass: the types do not stop it.
      metadata: metadata as () => RuntimeMetadata,
      logger: log.logger,
      unref: true,
    }),
  );
  started.push(hb);
  return hb;
}

const beats = () => rig.platform.control.beats(rig.workspaceId);

describe("start()", () => {
  it("resolves once the loop is scheduled, without waiting for a beat (a hung platform cannot block a boot)", async () => {
    rig.platform.control.failNext("heartbeat", { hang: true });
    const hb = heartbeat(() => METADATA);
    await hb.start();
    expect(hb.stats().running).toBe(true);
    await rig.platform.control.waitFor(() => beats().length === 1);
    expect(beats()[0]?.status).toBe(0); // still hanging: start() did not wait for it
  });

  it("rejects with E_HEARTBEAT_BAD_OPTION naming the field when the first metadata() result fails the schema; nothing starts", async () => {
    const hb = heartbeat(() => ({}));
    const error = await hb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(HeartbeatError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "E_HEARTBEAT_BAD_OPTION" });
    expect((error as Error).message).toContain("capabilities");
    expect(hb.stats().running).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(beats()).toHaveLength(0);
  });

  it("names the nested field and refuses a metadata() that throws", async () => {
    const wrongFlag = heartbeat(() => ({ capabilities: { ...defaultCapabilities, retry: "yes" } }));
    await expect(wrongFlag.start()).rejects.toThrow(/capabilities\.retry/);
    const throwing = heartbeat(() => {
      throw new Error("not ready");
    });
    await expect(throwing.start()).rejects.toMatchObject({ code: "E_HEARTBEAT_BAD_OPTION" });
  });

  it("defaultCapabilities is a valid starting point", async () => {
    const hb = heartbeat(() => ({ capabilities: { ...defaultCapabilities, session: true } }));
    await hb.start();
    await idle(() => hb.stats().inFlight > 0);
    await rig.platform.control.waitFor(() => beats()[0]?.status === 200);
    expect(beats()[0]?.body.runtime_metadata).toEqual({ capabilities: { ...defaultCapabilities, session: true } });
  });
});

describe("internal errors", () => {
  it("a later invalid metadata() result is counted in internalErrors, not beatsFailed; the last good metadata is sent", async () => {
    let result: unknown = METADATA;
    const hb = heartbeat(() => result);
    await hb.start();
    await idle(() => hb.stats().inFlight > 0);
    result = {};
    await advanceTo(rig.clock, rig.clock.now() + 2 * INTERVAL, () => hb.stats().inFlight > 0);
    const stats = hb.stats();
    expect(stats.beatsOk).toBe(3);
    expect(stats.beatsFailed).toBe(0);
    expect(stats.lastError).toBeUndefined();
    expect(stats.internalErrors).toBe(2);
    expect(stats.lastInternalError).toContain("capabilities");
    expect(beats().map((b) => b.body.runtime_metadata)).toEqual([METADATA, METADATA, METADATA]);
    expect(log.lines.filter((l) => l.obj.event === "heartbeat.metadata_failed")).toHaveLength(1);
  });

  it("a throwing listener and a throwing task snapshot count too", async () => {
    let snapshotThrows = false;
    const tasks = createTaskTracker({ clock: rig.clock });
    const hb = createHeartbeat(
      heartbeatOptions(rig, {
        tasks: {
          snapshot: () => {
            if (snapshotThrows) throw new Error("tracker broken");
            return tasks.snapshot();
          },
          onChange: (listener) => tasks.onChange(listener),
        },
        unref: true,
      }),
    );
    started.push(hb);
    await hb.start();
    await idle(() => hb.stats().inFlight > 0);
    snapshotThrows = true;
    await advanceTo(rig.clock, rig.clock.now() + INTERVAL, () => hb.stats().inFlight > 0);
    expect(hb.stats().internalErrors).toBe(1);
    expect(hb.stats().lastInternalError).toContain("tracker broken");
    expect(hb.stats().beatsFailed).toBe(0);
  });
});

describe("a clean stop", () => {
  it("stopping the poller right after start logs nothing above DEBUG and counts no failure", async () => {
    rig.platform.control.failNext("delegations", { hang: true });
    const poller = createDelegationPoller({
      platformUrl: rig.platform.url,
      workspaceId: rig.workspaceId,
      tokens: rig.tokens,
      stateDir: rig.dir,
      logger: log.logger,
      clock: rig.clock,
    });
    poller.start();
    await rig.platform.control.waitFor(() => rig.platform.control.requests("delegations").length === 1);
    await poller.stop();
    expect(log.lines.filter((l) => l.level !== "debug")).toEqual([]);
    expect(poller.stats()).toMatchObject({ pollFailures: 0, lastError: undefined, running: false });
  });
});
