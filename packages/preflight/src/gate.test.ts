import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentAuthCheck } from "./agent-checks.js";
import { createPreflightGate, defineCheck } from "./index.js";
import { baseEnv, config, removeDir, tempDir } from "./testing.js";

let home: string;
beforeEach(async () => {
  home = await tempDir("molecule-home-");
});
afterEach(async () => {
  await removeDir(home);
});

const NOW = Date.parse("2030-01-01T00:00:00Z");

function counting() {
  let runs = 0;
  let release: (() => void) | undefined;
  const check = defineCheck({
    name: "counting",
    needsConfig: false,
    run: async () => {
      runs += 1;
      if (release === undefined) return { detail: `run ${runs}` };
      await new Promise<void>((r) => {
        const prev = release;
        release = () => {
          prev?.();
          r();
        };
      });
      return { detail: `run ${runs}` };
    },
  });
  return {
    check,
    runs: () => runs,
    hold() {
      release = () => {};
    },
    release() {
      const r = release;
      release = undefined;
      r?.();
    },
  };
}

async function writeCredentials(expiresAt: number, token = "at") {
  await mkdir(join(home, ".claude"), { recursive: true });
  const body = { claudeAiOauth: { accessToken: token, scopes: ["user:inference"], expiresAt } };
  await writeFile(join(home, ".claude", ".credentials.json"), JSON.stringify(body), { mode: 0o600 });
}

describe("createPreflightGate", () => {
  it("caches the report for ttlMs, then runs again; force bypasses the cache", async () => {
    const clock = createFakeClock(NOW);
    const c = counting();
    const gate = createPreflightGate({
      checks: [c.check],
      ctx: { env: baseEnv(home), config: config() },
      ttlMs: 1_000,
      clock,
    });
    expect(gate.lastReport).toBeUndefined();
    const first = await gate.check();
    expect(first.ok).toBe(true);
    expect(c.runs()).toBe(1);
    await clock.advance(999);
    expect(await gate.check()).toBe(first);
    expect(c.runs()).toBe(1);
    await clock.advance(1);
    await gate.check();
    expect(c.runs()).toBe(2);
    await gate.check({ force: true });
    expect(c.runs()).toBe(3);
    expect(gate.lastReport?.checks[1]?.detail).toBe("run 3");
  });

  it("concurrent callers share one run", async () => {
    const clock = createFakeClock(NOW);
    const c = counting();
    c.hold();
    const gate = createPreflightGate({ checks: [c.check], ctx: { env: baseEnv(home), config: config() }, clock });
    const a = gate.check();
    const b = gate.check({ force: true });
    while (c.runs() === 0) await clock.settle();
    c.release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(c.runs()).toBe(1);
    expect(ra).toEqual(rb);
  });

  it("reset drops the cached report", async () => {
    const clock = createFakeClock(NOW);
    const c = counting();
    const gate = createPreflightGate({ checks: [c.check], ctx: { env: baseEnv(home), config: config() }, clock });
    await gate.check();
    gate.reset();
    expect(gate.lastReport).toBeUndefined();
    await gate.check();
    expect(c.runs()).toBe(2);
  });

  describe("an observed auth failure", () => {
    const setup = async (ttlMs = 60_000) => {
      await writeCredentials(NOW + 86_400_000);
      const clock = createFakeClock(NOW);
      const gate = createPreflightGate({
        checks: [agentAuthCheck],
        ctx: { env: baseEnv(home), config: config() },
        ttlMs,
        clock,
      });
      return { clock, gate };
    };

    it("ignores ordinary output", async () => {
      const { gate } = await setup();
      expect(gate.noteAgentOutput("Done. 3 files changed; 401k plan unaffected")).toBe(false);
      expect((await gate.check()).ok).toBe(true);
    });

    it("is a sticky failure on every report, cached or fresh, until noteAgentSuccess", async () => {
      const { gate, clock } = await setup();
      expect((await gate.check()).ok).toBe(true);
      expect(gate.noteAgentOutput("Not logged in · Please run /login")).toBe(true);
      expect(gate.lastReport?.ok).toBe(false);
      const cached = await gate.check();
      expect(cached.ok).toBe(false);
      expect(cached.failures).toMatchObject([{ code: "E_AGENT_AUTH_OBSERVED", check: "agent-auth", severity: "fail" }]);
      expect(cached.checks.find((c) => c.name === "agent-auth")?.status).toBe("pass"); // status is not capability
      await clock.advance(30_000);
      expect((await gate.check({ force: true })).failures.map((f) => f.code)).toEqual(["E_AGENT_AUTH_OBSERVED"]);
      gate.noteAgentSuccess();
      expect((await gate.check()).ok).toBe(true);
      expect(gate.lastReport?.ok).toBe(true);
    });

    it("clears once ttlMs has passed and the token-free check passes", async () => {
      const { gate, clock } = await setup(10_000);
      gate.noteAgentOutput("API Error: 401 invalid bearer token");
      await clock.advance(9_999);
      expect((await gate.check()).ok).toBe(false);
      await clock.advance(1);
      expect((await gate.check()).ok).toBe(true);
    });

    it("stays after ttlMs while the token-free check fails", async () => {
      const { gate, clock } = await setup(10_000);
      await writeCredentials(NOW - 3_600_000); // expired, no refresh token
      gate.noteAgentOutput("authentication_error");
      await clock.advance(20_000);
      const report = await gate.check();
      expect(report.failures.map((f) => f.code).sort()).toEqual(["E_AGENT_AUTH_EXPIRED", "E_AGENT_AUTH_OBSERVED"]);
    });

    it("clears when the credentials file changes", async () => {
      const { gate } = await setup();
      gate.noteAgentOutput("Invalid API key · Fix external API key");
      expect((await gate.check()).ok).toBe(false);
      await writeCredentials(NOW + 172_800_000, "a-new-longer-access-token");
      expect((await gate.check()).ok).toBe(true);
    });

    it("clears when an auth env var changes", async () => {
      await writeCredentials(NOW + 86_400_000);
      const env: Record<string, string | undefined> = { ...baseEnv(home) };
      const gate = createPreflightGate({
        checks: [agentAuthCheck],
        ctx: { env, config: config() },
        clock: createFakeClock(NOW),
      });
      gate.noteAgentOutput("unauthorized");
      expect((await gate.check()).ok).toBe(false);
      env.ANTHROPIC_API_KEY = "sk-new";
      expect((await gate.check()).ok).toBe(true);
    });

    it("reset drops it too", async () => {
      const { gate } = await setup();
      gate.noteAgentOutput("Not logged in");
      gate.reset();
      expect((await gate.check()).ok).toBe(true);
    });
  });
});
