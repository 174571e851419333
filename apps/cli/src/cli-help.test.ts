import { AGENTS, DEFAULT_AGENT as DEFAULT_AGENT_ID } from "@molecule/auth";
import { describe, expect, it } from "vitest";
import { main } from "./cli.js";
import { devAgentHarness } from "./commands/dev/agents.js";

async function help(argv: string[]): Promise<string> {
  let out = "";
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (out += t) }, env: {} };
  expect(await main(argv, io)).toBe(0);
  return out.replace(/\s+/g, " ");
}

describe("molecule auth check --help", () => {
  it("lists the agent registry's ids for --agent", async () => {
    const ids = AGENTS.map((a) => a.id).join(", ");
    for (const argv of [
      ["auth", "check", "--help"],
      ["auth", "check", "-h"],
      ["auth", "help", "check"],
    ]) {
      expect(await help(argv)).toContain(`--agent <name> check this agent instead of the config's runtime (${ids})`);
    }
  });
});

describe("molecule dev --help", () => {
  it("offers the registry's agents for --agent, the registry's default first, then adapter", async () => {
    const choices = [...AGENTS.map((a) => a.id), "adapter"].map((id) => `"${id}"`).join(", ");
    expect(await help(["dev", "--help"])).toContain(`(choices: ${choices}, default: "${DEFAULT_AGENT_ID}")`);
  });
});

describe("molecule dev --agent (usage, before anything starts)", () => {
  async function dev(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} };
    const code = await main(["dev", ...argv], io);
    return { code, out, err };
  }

  it("an agent the registry does not name is a usage error listing the choices", async () => {
    const run = await dev(["--agent", "no-such-agent"]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`Allowed choices are ${AGENTS.map((a) => a.id).join(", ")}`);
  });

  it("--live-model drives only the default agent", async () => {
    const other = AGENTS.find((a) => a.id !== DEFAULT_AGENT_ID)?.id ?? "";
    const run = await dev(["--agent", other, "--live-model"]);
    expect(run.code).toBe(2);
    expect(run.err).toContain("--live-model uses your own Claude login; it drives the default agent only");
  });

  it("--adapter without --agent adapter is a usage error", async () => {
    const run = await dev(["--adapter", "./my-adapter.mjs"]);
    expect(run.code).toBe(2);
    expect(run.err).toContain("--adapter names the module for --agent adapter; add --agent adapter");
  });

  it("--agent adapter: the scenarios that need an agent say not applicable and exit 0 without starting anything", async () => {
    for (const scenario of ["wedge", "stale-session", "logged-out", "empty-output"]) {
      const run = await dev(["--agent", "adapter", "--scenario", scenario]);
      expect(run).toMatchObject({ code: 0, err: "" });
      expect(run.out).toContain(`--agent adapter --scenario ${scenario}: not applicable to adapter: `);
    }
  });

  it("--scenario wedge with another agent says not applicable and exits 0 without starting anything", async () => {
    for (const agent of AGENTS.filter((a) => devAgentHarness(a.id) !== undefined)) {
      const run = await dev(["--agent", agent.id, "--scenario", "wedge"]);
      expect(run).toMatchObject({ code: 0, err: "" });
      expect(run.out).toContain(`--scenario wedge: not applicable to ${agent.id}: the wedge is Claude Code's`);
    }
  });

  it("every agent of the registry can be driven by molecule dev (its own harness, or Claude Code's path)", () => {
    const without = AGENTS.filter((a) => a.id !== DEFAULT_AGENT_ID && devAgentHarness(a.id) === undefined);
    expect(without.map((a) => a.id)).toEqual([]);
    expect(AGENTS.length).toBeGreaterThan(1);
  });
});
