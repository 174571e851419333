import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

const e2e = e2eSuite("molecule-e2e-boot-");

describe("boot failures: one clear report, exit 1, never half-running", () => {
  it("an invalid WORKSPACE_ID is reported with its fix; nothing is registered", async () => {
    const d = await startDaemon({ platform: e2e.platform, env: { WORKSPACE_ID: "not-a-uuid" }, waitListening: false });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain('WORKSPACE_ID "not-a-uuid" is not a UUID');
    expect(d.stderr()).toContain("Fix: Set WORKSPACE_ID");
    expect(d.logs.some((l) => l.event === "a2a.listening")).toBe(false);
    expect(e2e.platform.control.requests("register")).toHaveLength(0);
  });

  it("a missing agent binary fails preflight: exit 1, the report names the binary", async () => {
    const missing = join(e2e.tmp, "no-such-claude");
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: missing } },
      waitListening: false,
    });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain(missing);
    expect(e2e.platform.control.registrations(d.id)).toHaveLength(0);
  });

  it("no agent credentials at all fails the token-free auth gate at boot (exit 1)", async () => {
    const d = await startDaemon({
      platform: e2e.platform,
      env: { ANTHROPIC_API_KEY: undefined },
      waitListening: false,
    });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toMatch(/not logged in/i);
    expect(e2e.platform.control.registrations(d.id)).toHaveLength(0);
  });
});
