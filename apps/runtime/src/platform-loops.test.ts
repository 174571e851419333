// rejoinOnNotFound with the real pieces: the registrar, the token store and a heartbeat against the
// testkit platform (which, like a platform that deleted the workspace, answers its beats 404).
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createTokenStore, type TokenStore } from "@molecule/auth";
import { createHeartbeat, createTaskTracker, defaultCapabilities, type Heartbeat } from "@molecule/heartbeat";
import { type LogSink, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics } from "./metrics.js";
import { rejoinOnNotFound } from "./platform-loops.js";
import { createRegistrar, type Registrar } from "./register.js";

let platform: TestPlatform;
let dir: string;
let tokens: TokenStore;
let log: LogSink;
let heartbeat: Heartbeat;
let registrar: Registrar;
const id = randomUUID();

beforeEach(async () => {
  platform = await startTestPlatform({ unknownHeartbeat: "not-found" });
  dir = await tempDir("molecule-rejoin-");
  tokens = createTokenStore({ configsDir: join(dir), watch: false, env: {} });
  log = sinkLogger();
  registrar = createRegistrar({
    platformUrl: platform.url,
    workspaceId: id,
    tokens,
    url: "http://localhost:8000",
    agentCard: { name: "w", description: "", version: "1.0.0", url: "http://localhost:8000", skills: [] },
    halt: new AbortController().signal,
    log: log.logger,
    metrics: createMetrics(),
  });
  await registrar.register("boot");
  // The heartbeat only beats when told to here (an hour's interval): the handler's beatNow is what we watch.
  heartbeat = createHeartbeat({
    platformUrl: platform.url,
    workspaceId: id,
    tokens,
    intervalMs: 3_600_000,
    ttlMs: 7_200_000,
    metadata: () => ({ capabilities: { ...defaultCapabilities } }),
    tasks: createTaskTracker(),
    unref: true,
  });
});
afterEach(async () => {
  await heartbeat.stop();
  tokens.close();
  await platform.close();
  await removeDir(dir);
});

const event = (streak: number) => ({ workspaceId: id, streak, since: Date.now(), lost: false });
const refusals = () => log.lines.filter((l) => l.obj.event === "register.rejoin_refused");

describe("rejoinOnNotFound", () => {
  it("registers again on each 404 beat (one at a time), WARNs once per cause, and beats at once when it works", async () => {
    const onNotFound = rejoinOnNotFound({ registrar, heartbeat, log: log.logger, draining: () => false });
    platform.control.forget(id);
    platform.control.failNext("register", { status: 404, body: { error: "workspace not found" }, times: 2 });

    onNotFound(event(1));
    onNotFound(event(1)); // while the first is in flight: no second request
    await platform.control.waitFor(() => refusals().length === 1);
    expect(platform.control.registrations(id)).toHaveLength(2); // boot's, then one
    onNotFound(event(2));
    await platform.control.waitFor(() => refusals().length === 2);
    expect(refusals().map((l) => l.level)).toEqual(["warn", "debug"]);
    expect(refusals()[0]?.obj).toMatchObject({ code: "E_REGISTER_REJECTED", status: 404 });
    expect(platform.control.beats(id)).toHaveLength(0);

    onNotFound(event(3));
    // Registered: the platform knows the workspace again, and a beat went out at once with the new token.
    await platform.control.waitFor(() => platform.control.beats(id).some((b) => b.status === 200));
    expect(platform.control.registrations(id).map((r) => r.status)).toEqual([200, 404, 404, 200]);
    expect(platform.control.status(id)).toBe("online");
    expect(platform.control.beats(id).at(-1)?.token).toBe(platform.control.token(id));
    await platform.control.waitFor(() => heartbeat.stats().beatsOk === 1);
  });

  it("does nothing once shutdown has begun", async () => {
    const onNotFound = rejoinOnNotFound({ registrar, heartbeat, log: log.logger, draining: () => true });
    onNotFound(event(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(platform.control.registrations(id)).toHaveLength(1);
  });
});
