import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startDaemon, stopAllDaemons } from "./support/daemon.js";

let platform: TestPlatform;
let tmp: string;

beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => {
  await platform.close();
});
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-e2e-boot-"));
});
afterEach(async () => {
  await stopAllDaemons();
  await rm(tmp, { recursive: true, force: true });
});

describe("boot failures: one clear report, exit 1, never half-running", () => {
  it("an invalid WORKSPACE_ID is reported with its fix; nothing is registered", async () => {
    const d = await startDaemon({ platform, env: { WORKSPACE_ID: "not-a-uuid" }, waitListening: false });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain('WORKSPACE_ID "not-a-uuid" is not a UUID');
    expect(d.stderr()).toContain("Fix: Set WORKSPACE_ID");
    expect(d.logs.some((l) => l.event === "a2a.listening")).toBe(false);
    expect(platform.control.requests("register")).toHaveLength(0);
  });

  it("a missing agent binary fails preflight: exit 1, the report names the binary", async () => {
    const missing = join(tmp, "no-such-claude");
    const d = await startDaemon({
      platform,
      config: { runtime_config: { command: missing } },
      waitListening: false,
    });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain(missing);
    expect(platform.control.registrations(d.id)).toHaveLength(0);
  });

  it("no agent credentials at all fails the token-free auth gate at boot (exit 1)", async () => {
    const d = await startDaemon({ platform, env: { ANTHROPIC_API_KEY: undefined }, waitListening: false });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toMatch(/not logged in/i);
    expect(platform.control.registrations(d.id)).toHaveLength(0);
  });
});
