import { type LogSink, sinkLogger } from "@molecule/test-support";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHeartbeat, type Heartbeat, type OutageRecoveredEvent } from "../index.js";
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
