import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENTS, type AgentAuthContext, type AgentDescriptor } from "@molecule/auth";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentAuthCheck, agentBinaryCheck } from "./agent-checks.js";
import { authTokenFileCheck, runtimeCheck } from "./config-checks.js";
import { createPreflightGate, runPreflight } from "./index.js";
import { knownBadVersionIssues } from "./known-bad.js";
import { baseEnv, config, removeDir, runOne, tempDir, writeScript } from "./testing.js";
import { workspaceChecks } from "./workspace.js";

// Preflight takes its agent facts from the registry in its context (default AGENTS from
// @molecule/auth). These tests pass their own registry with a fake agent: a tiny script that prints
// a version, a probe reading FAKE_KEY or ~/.fake/login, and known-bad version ranges.

const NOW = Date.parse("2030-01-01T00:00:00Z");

let home: string;
let bin: string;
beforeEach(async () => {
  home = await tempDir("molecule-registry-");
  bin = join(home, "bin");
  await mkdir(bin);
});
afterEach(async () => {
  await removeDir(home);
});

const loginFile = (ctx: Pick<AgentAuthContext, "home">) => join(ctx.home, ".fake", "login");

function fakeAgent(overrides: Partial<AgentDescriptor> = {}): AgentDescriptor {
  return {
    id: "fake-agent",
    binary: "fake",
    versionArgs: ["version", "--short"],
    credentialEnv: ["FAKE_KEY"],
    reloginHint: "Run `fake login` again.",
    authProbe: {
      async check(ctx) {
        if (ctx.env.FAKE_KEY) return { ok: true, state: "ok", reason: "FAKE_KEY is set", warnings: [] };
        return { ok: false, state: "missing", reason: "FAKE_KEY is not set", warnings: [] };
      },
      credentialFiles: (ctx) => [loginFile(ctx)],
    },
    supportsResume: false,
    ...overrides,
  };
}

/** The fake binary: prints `output` only when called with exactly the descriptor's versionArgs. */
async function installFake(output: string): Promise<void> {
  await writeScript(
    join(bin, "fake"),
    `const a = process.argv.slice(2).join(" ");
if (a !== "version --short") { console.error("unexpected args: " + a); process.exit(2); }
console.log(${JSON.stringify(output)});`,
  );
}

const env = (extra: Record<string, string> = {}) => baseEnv(home, { PATH: `${bin}:/usr/bin:/bin`, ...extra });
const fakeConfig = () => config({ runtime: "fake-agent" });

describe("a custom registry in the preflight context", () => {
  it("the runtime check accepts its ids (plus command) and no longer the built-in ones", async () => {
    const agents = [fakeAgent()];
    const ok = await runOne(runtimeCheck, { env: env(), config: fakeConfig(), agents });
    expect(ok.ok).toBe(true);
    const codex = await runOne(runtimeCheck, { env: env(), config: config({ runtime: "codex" }), agents });
    expect(codex.failures[0]?.detail).toContain("not one of fake-agent, command");
  });

  it("the default registry is AGENTS: every agent id plus command and adapter", async () => {
    const r = await runOne(runtimeCheck, { env: env(), config: config({ runtime: "nope" }) });
    expect(r.failures[0]?.detail).toContain(
      `not one of ${[...AGENTS.map((a) => a.id), "command", "adapter"].join(", ")}`,
    );
  });

  it("agent-binary runs the descriptor's binary with its versionArgs", async () => {
    await installFake("fake 1.2.3");
    const r = await runOne(agentBinaryCheck, { env: env(), config: fakeConfig(), agents: [fakeAgent()] });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "fake 1.2.3" });
  });

  it("a missing binary fails with the descriptor's install hint", async () => {
    const agents = [fakeAgent({ installHint: "Install Fake (npm i -g fake)." })];
    const r = await runOne(agentBinaryCheck, { env: env(), config: fakeConfig(), agents });
    expect(r.failures).toMatchObject([
      { code: "E_AGENT_BINARY_MISSING", detail: "fake is not on PATH (runtime fake-agent)" },
    ]);
    expect(r.failures[0]?.fix).toBe(
      "Install Fake (npm i -g fake). Or set runtime_config.command to its absolute path.",
    );
  });

  it("agent-auth runs the descriptor's probe and gives its re-login hint as the fix", async () => {
    const agents = [fakeAgent()];
    const out = await runOne(agentAuthCheck, { env: env(), config: fakeConfig(), agents });
    expect(out.failures).toMatchObject([
      { code: "E_AGENT_AUTH_MISSING", detail: "fake-agent: FAKE_KEY is not set", fix: "Run `fake login` again." },
    ]);
    expect((await runOne(agentAuthCheck, { env: env({ FAKE_KEY: "k" }), config: fakeConfig(), agents })).ok).toBe(true);
  });

  it("a runtime without a descriptor is skipped by agent-auth (claude-code, when the registry lacks it)", async () => {
    const r = await runOne(agentAuthCheck, { env: env(), config: config(), agents: [fakeAgent()] });
    expect(r.checks[1]).toMatchObject({ status: "skip", detail: "no credential probe for runtime claude-code" });
  });

  it("auth-token-file offers the descriptor's credential env vars as the alternative", async () => {
    const cfg = config({ runtime: "fake-agent", runtime_config: { auth_token_file: "token" } });
    const missing = await runOne(authTokenFileCheck, {
      env: env(),
      config: cfg,
      configDir: home,
      agents: [fakeAgent()],
    });
    expect(missing.failures[0]?.fix).toContain("or set FAKE_KEY instead");
    const viaEnv = await runOne(authTokenFileCheck, {
      env: env({ FAKE_KEY: "k" }),
      config: cfg,
      configDir: home,
      agents: [fakeAgent()],
    });
    expect(viaEnv.checks[1]?.detail).toContain("using FAKE_KEY instead");
  });

  it("the command runtime stays known and gets no agent checks from the registry", async () => {
    const cfg = config({ runtime: "command", runtime_config: { command: "/bin/true" } });
    const agents = [fakeAgent()];
    const r = await runPreflight(workspaceChecks(cfg, { only: ["runtime", "agent-binary", "agent-auth"] }), {
      env: env(),
      config: cfg,
      agents,
    });
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => [c.name, c.status, c.detail])).toEqual([
      ["config", "pass", "given"],
      ["runtime", "pass", "command"],
      ["agent-binary", "pass", "/bin/true"],
    ]);
  });
});

describe("knownBadVersions (preflight warns, never fails)", () => {
  const bad = (range: string, reason = "drops every second turn") =>
    fakeAgent({ knownBadVersions: [{ range, reason }] });
  const run = (agent: AgentDescriptor) =>
    runOne(agentBinaryCheck, { env: env(), config: fakeConfig(), agents: [agent] });

  it("an installed version inside a listed range warns with the reason and a fix", async () => {
    await installFake("fake 2.1.3 (build 77)");
    const r = await run(bad(">=2.1.0 <2.1.5"));
    expect(r.ok).toBe(true);
    expect(r.checks[1]).toMatchObject({ status: "warn", detail: "fake 2.1.3 (build 77)" });
    expect(r.warnings).toEqual([
      {
        severity: "warn",
        check: "agent-binary",
        code: "W_AGENT_VERSION_KNOWN_BAD",
        title: "Agent version known to be bad",
        detail: "fake-agent 2.1.3 is in >=2.1.0 <2.1.5: drops every second turn",
        fix: "Install a version of fake outside >=2.1.0 <2.1.5 (or point runtime_config.command at one).",
      },
    ]);
  });

  it("a version outside every range passes", async () => {
    await installFake("fake 2.1.5");
    const r = await run(bad(">=2.1.0 <2.1.5"));
    expect(r.checks[1]?.status).toBe("pass");
    expect(r.warnings).toEqual([]);
  });

  it("the built-in agents list none", () => {
    for (const agent of AGENTS) expect(knownBadVersionIssues(agent, "9.9.9")).toEqual([]);
  });

  it("prerelease versions are matched too (2.1.5-beta.1 comes before 2.1.5)", () => {
    expect(knownBadVersionIssues(bad(">=2.1.0 <2.1.5"), "2.1.5-beta.1 (Fake)")).toMatchObject([
      { code: "W_AGENT_VERSION_KNOWN_BAD", detail: expect.stringContaining("2.1.5-beta.1 is in") },
    ]);
    expect(knownBadVersionIssues(bad(">=2.1.0 <2.1.5"), "2.1.6-beta.1 (Fake)")).toEqual([]);
  });

  it("each matching range is its own warning", () => {
    const agent = fakeAgent({
      knownBadVersions: [
        { range: "2.x", reason: "first" },
        { range: "<3", reason: "second" },
        { range: ">=3", reason: "third" },
      ],
    });
    expect(knownBadVersionIssues(agent, "2.0.0").map((i) => i.detail)).toEqual([
      "fake-agent 2.0.0 is in 2.x: first",
      "fake-agent 2.0.0 is in <3: second",
    ]);
  });

  it("an output without a version, or an invalid range, warns instead of guessing", () => {
    expect(knownBadVersionIssues(bad("<3"), "(no output)")).toMatchObject([{ code: "W_AGENT_VERSION_UNKNOWN" }]);
    expect(knownBadVersionIssues(bad("not a range"), "1.0.0")).toMatchObject([
      { code: "W_AGENT_VERSION_RANGE_INVALID", severity: "warn" },
    ]);
  });
});

describe("the gate with a custom registry", () => {
  const gate = (agents: readonly AgentDescriptor[], e: Record<string, string | undefined>) =>
    createPreflightGate({
      checks: [agentAuthCheck],
      ctx: { env: e, config: fakeConfig(), agents },
      clock: createFakeClock(NOW),
    });

  it("an observed failure's fix is the configured agent's re-login hint", async () => {
    const g = gate([fakeAgent()], env({ FAKE_KEY: "k" }));
    g.noteAgentOutput("Not logged in");
    const report = await g.check();
    expect(report.failures).toMatchObject([{ code: "E_AGENT_AUTH_OBSERVED", fix: "Run `fake login` again." }]);
  });

  it("clears when the probe's credential file changes", async () => {
    const g = gate([fakeAgent()], env({ FAKE_KEY: "k" }));
    g.noteAgentOutput("unauthorized");
    expect((await g.check()).ok).toBe(false);
    await mkdir(join(home, ".fake"));
    await writeFile(loginFile({ home }), "new login");
    expect((await g.check()).ok).toBe(true);
  });

  it("clears when one of the descriptor's credential env vars changes", async () => {
    const e: Record<string, string | undefined> = { ...env({ FAKE_KEY: "old" }) };
    const g = gate([fakeAgent()], e);
    g.noteAgentOutput("unauthorized");
    expect((await g.check()).ok).toBe(false);
    e.OTHER_KEY = "not a credential";
    expect((await g.check()).ok).toBe(false);
    e.FAKE_KEY = "new";
    expect((await g.check()).ok).toBe(true);
  });
});
