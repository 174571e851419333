import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentAuthCheck } from "./agent-checks.js";
import { baseEnv, config, removeDir, runOne, tempDir } from "./testing.js";
import { workspaceChecks } from "./workspace.js";

let home: string;
beforeEach(async () => {
  home = await tempDir("molecule-home-");
});
afterEach(async () => {
  await removeDir(home);
});

const NOW = Date.parse("2030-01-01T00:00:00Z");

async function writeCredentials(oauth: Record<string, unknown>) {
  await mkdir(join(home, ".claude"), { recursive: true });
  await writeFile(join(home, ".claude", ".credentials.json"), JSON.stringify({ claudeAiOauth: oauth }), {
    mode: 0o600,
  });
}

const run = (env = baseEnv(home), cfg = config()) =>
  runOne(agentAuthCheck, { env, config: cfg, clock: createFakeClock(NOW) });

describe("agent-auth", () => {
  it("passes with valid OAuth credentials, naming state and method", async () => {
    await writeCredentials({ accessToken: "at", scopes: ["user:inference"], expiresAt: NOW + 86_400_000 });
    const r = await run();
    expect(r.ok).toBe(true);
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "ok (oauth-file)" });
  });

  it("passes with an API key in the environment", async () => {
    const r = await run(baseEnv(home, { ANTHROPIC_API_KEY: "sk-ant-secret" }));
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "ok (api-key-env)" });
    expect(JSON.stringify(r)).not.toContain("sk-ant-secret");
  });

  it("fails when logged out (no credentials), with a re-login fix", async () => {
    const r = await run();
    expect(r.failures).toMatchObject([{ check: "agent-auth", code: "E_AGENT_AUTH_MISSING" }]);
    expect(r.failures[0]?.fix).toContain("/login");
  });

  it("fails for expired credentials without a refresh token", async () => {
    await writeCredentials({ accessToken: "at", scopes: ["user:inference"], expiresAt: NOW - 3_600_000 });
    const r = await run();
    expect(r.failures).toMatchObject([{ code: "E_AGENT_AUTH_EXPIRED" }]);
    expect(r.failures[0]?.detail).toContain("2029-12-31T23:00:00.000Z");
  });

  it("fails for a token without the user:inference scope", async () => {
    await writeCredentials({ accessToken: "at", scopes: ["user:profile"], expiresAt: NOW + 86_400_000 });
    expect((await run()).failures).toMatchObject([{ code: "E_AGENT_AUTH_NO_SCOPE" }]);
  });

  it("warns with the time left when the login expires soon", async () => {
    await writeCredentials({ accessToken: "at", scopes: ["user:inference"], expiresAt: NOW + 30 * 60_000 });
    const r = await run();
    expect(r.ok).toBe(true);
    expect(r.warnings).toMatchObject([{ code: "W_AGENT_AUTH_EXPIRING" }]);
    expect(r.warnings[0]?.detail).toContain("expires in 30 min");
  });

  it("warns (not fails) for an expired token the CLI can refresh", async () => {
    await writeCredentials({
      accessToken: "at",
      refreshToken: "rt",
      scopes: ["user:inference"],
      expiresAt: NOW - 7_200_000,
    });
    const r = await run();
    expect(r.ok).toBe(true);
    expect(r.warnings).toMatchObject([{ code: "W_AGENT_AUTH_REFRESHABLE" }]);
    expect(r.warnings[0]?.detail).toContain("expired 2 h ago");
  });

  it("MOLECULE_PREFLIGHT_CHECK_AUTH=false turns the gate off with a warning", async () => {
    const r = await run(baseEnv(home, { MOLECULE_PREFLIGHT_CHECK_AUTH: "false" }));
    expect(r.ok).toBe(true);
    expect(r.checks[1]?.status).toBe("warn");
    expect(r.warnings).toMatchObject([{ code: "W_AGENT_AUTH_CHECK_OFF" }]);
  });

  it("uses the runtime's agent probe (codex reads CODEX_API_KEY)", async () => {
    const cfg = config({ runtime: "codex" });
    expect((await run(baseEnv(home), cfg)).failures[0]?.code).toMatch(/^E_AGENT_AUTH_/);
    expect((await run(baseEnv(home, { CODEX_API_KEY: "k" }), cfg)).ok).toBe(true);
  });

  it("skips for the command runtime, and workspaceChecks leaves it out there", async () => {
    const cfg = config({ runtime: "command", runtime_config: { command: "/bin/true" } });
    expect((await run(baseEnv(home), cfg)).checks[1]?.status).toBe("skip");
    expect(workspaceChecks(cfg).map((c) => c.name)).not.toContain("agent-auth");
    expect(workspaceChecks(config()).map((c) => c.name)).toContain("agent-auth");
    expect(workspaceChecks(undefined).map((c) => c.name)).toContain("agent-auth");
  });
});

describe("workspaceChecks", () => {
  it("lists every built-in check once, agent checks last", () => {
    const names = workspaceChecks(undefined).map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.slice(-3)).toEqual(["agent-binary", "agent-endpoint", "agent-auth"]);
    expect(names).toEqual(
      expect.arrayContaining(["workspace-id", "platform-url", "platform-token", "runtime", "skills"]),
    );
  });
  it("agentChecks: false replaces the agent checks with one warning", () => {
    const names = workspaceChecks(undefined, { agentChecks: false }).map((c) => c.name);
    expect(names).not.toContain("agent-binary");
    expect(names).not.toContain("agent-auth");
    expect(names).not.toContain("agent-endpoint");
    expect(names.at(-1)).toBe("agent");
  });
});
