import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type AgentDescriptor, getAgent } from "@molecule/auth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentBinaryCheck } from "./agent-checks.js";
import { agentVersionIssues } from "./known-bad.js";
import { baseEnv, config, removeDir, runOne, tempDir, writeScript } from "./testing.js";

// The agent-binary check warns (W_AGENT_VERSION_UNTESTED, never a failure) when the installed
// CLI's major differs from the registry's testedVersion; for 0.x the minor counts as the major.

const agent = (id: string): AgentDescriptor => {
  const found = getAgent(id);
  if (!found) throw new Error(`no agent ${id}`);
  return found;
};
const codes = (id: string, output: string) => agentVersionIssues(agent(id), output).map((i) => i.code);

describe("the installed version against the registry's testedVersion", () => {
  it("the registry's tested versions are the ones this table is about", () => {
    expect(["claude-code", "codex", "gemini-cli"].map((id) => agent(id).testedVersion)).toEqual([
      "2.1.197",
      "0.169.0",
      "0.61.0",
    ]);
  });

  type Row = readonly [agent: string, output: string, warns: boolean];
  it.each<Row>([
    // Each CLI's own `--version` shape (measured: Codex 0.169.0, Gemini CLI 0.61.0, Claude Code 2.1.197).
    ["codex", "codex-cli 0.169.0", false],
    ["codex", "codex-cli 0.169.5", false],
    ["codex", "codex-cli 0.170.0", true], // 0.x: the minor is the major
    ["codex", "codex-cli 0.168.2", true],
    ["codex", "codex-cli 0.170.0-alpha.3", true],
    ["codex", "codex-cli 1.0.0", true],
    ["gemini-cli", "0.61.0", false],
    ["gemini-cli", "0.61.3\n", false],
    ["gemini-cli", "0.62.0", true],
    ["gemini-cli", "0.60.9", true],
    ["claude-code", "2.1.197 (Claude Code)", false],
    ["claude-code", "2.0.5 (Claude Code)", false], // same major: the minor does not count from 1.0 on
    ["claude-code", "2.9.0 (Claude Code)", false],
    ["claude-code", "3.0.0 (Claude Code)", true],
    ["claude-code", "1.0.128 (Claude Code)", true],
  ])("%s: %j warns: %s", (id, output, warns) => {
    expect(codes(id, output)).toEqual(warns ? ["W_AGENT_VERSION_UNTESTED"] : []);
  });

  it("the warning names both versions, the 0.x rule and the pinned install", () => {
    const [issue] = agentVersionIssues(agent("codex"), "codex-cli 0.170.0");
    expect(issue).toEqual({
      severity: "warn",
      code: "W_AGENT_VERSION_UNTESTED",
      title: "Agent version differs from the tested one by a major version",
      detail:
        "codex 0.170.0 (0.170.x) is not 0.169.x: this runtime is tested with 0.169.0 (for 0.x versions the minor counts as the major, so 0.170 differs from 0.169); its command line, output or login files may have changed",
      fix: "Install the tested version (npm install -g @openai/codex@0.169.0) or point runtime_config.command at it; if you keep 0.170.0, check that a turn works before going live.",
    });
    expect(agentVersionIssues(agent("claude-code"), "3.0.1 (Claude Code)")[0]?.detail).toContain(
      "claude-code 3.0.1 (3.x) is not 2.x",
    );
  });

  it("an output without a version warns once that it cannot be compared", () => {
    expect(agentVersionIssues(agent("gemini-cli"), "(no output)")).toMatchObject([
      { code: "W_AGENT_VERSION_UNKNOWN", severity: "warn", detail: expect.stringContaining("tested version 0.61.0") },
    ]);
  });

  it("a descriptor without a testedVersion gets only its known-bad checks", () => {
    const { testedVersion: _, ...untested } = agent("codex");
    expect(agentVersionIssues(untested, "codex-cli 9.0.0")).toEqual([]);
    const bad = { ...untested, knownBadVersions: [{ range: ">=9", reason: "breaks" }] };
    expect(agentVersionIssues(bad, "codex-cli 9.0.0").map((i) => i.code)).toEqual(["W_AGENT_VERSION_KNOWN_BAD"]);
    expect(agentVersionIssues({ ...bad, testedVersion: "0.169.0" }, "codex-cli 9.0.0").map((i) => i.code)).toEqual([
      "W_AGENT_VERSION_UNTESTED",
      "W_AGENT_VERSION_KNOWN_BAD",
    ]);
  });
});

describe("agent-binary end to end", () => {
  let home: string;
  let bin: string;
  beforeEach(async () => {
    home = await tempDir("molecule-version-");
    bin = join(home, "bin");
    await mkdir(bin);
  });
  afterEach(async () => {
    await removeDir(home);
  });
  const run = (runtime: string) =>
    runOne(agentBinaryCheck, { env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }), config: config({ runtime }) });

  it("an untested major warns and the report stays ok; the tested one passes", async () => {
    await writeScript(join(bin, "codex"), 'console.log("codex-cli 0.170.0")');
    const r = await run("codex");
    expect(r.ok).toBe(true);
    expect(r.checks[1]).toMatchObject({ status: "warn", detail: "codex-cli 0.170.0" });
    expect(r.failures).toEqual([]);
    expect(r.warnings.map((w) => [w.check, w.code])).toEqual([["agent-binary", "W_AGENT_VERSION_UNTESTED"]]);
    await writeScript(join(bin, "gemini"), 'console.log("0.61.0")');
    expect((await run("gemini-cli")).checks[1]).toMatchObject({ status: "pass", detail: "0.61.0" });
  });
});
