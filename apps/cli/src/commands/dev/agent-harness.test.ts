import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENTS, DEFAULT_AGENT } from "@molecule/auth";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { earlierIn } from "./agent-harness.js";
import { AGENT_SCENARIOS, NOT_APPLICABLE } from "./agent-scenarios.js";
import { agentCacheDir } from "./agent-setup.js";
import { devAgentHarness } from "./agents.js";
import { SCENARIOS } from "./scenarios.js";

let home: string;
beforeEach(async () => {
  home = await tempDir("dev-agent-home-");
});
afterEach(() => removeDir(home));

async function touch(...parts: string[]): Promise<string> {
  const file = join(home, ...parts);
  await mkdir(join(file, ".."), { recursive: true });
  await writeFile(file, "{}\n");
  return file;
}

describe("molecule dev --agent harnesses", () => {
  it("every registry agent shipped as an npm CLI but the default has one, with the registry's package, version and key", () => {
    const clis = AGENTS.filter((a) => a.id !== DEFAULT_AGENT && a.npmPackage !== undefined);
    expect(clis.map((a) => a.id)).toEqual(["codex", "gemini-cli"]);
    for (const agent of clis) {
      expect(devAgentHarness(agent.id)?.id).toBe(agent.id);
      expect(agent.npmPackage).toBeDefined();
      expect(agent.testedVersion).toBeDefined();
      expect(agent.credentialEnv[0]).toBeDefined();
    }
    expect(devAgentHarness(DEFAULT_AGENT)).toBeUndefined();
  });

  it("Codex's transcripts are the rollouts under <home>/sessions/YYYY/MM/DD", async () => {
    const rollout = await touch(
      "sessions",
      "2026",
      "12",
      "03",
      "rollout-2026-12-03T13-49-19-01a23ac7-799f-7ef1-ae76-42ca9ad87d58.jsonl",
    );
    await touch("sessions", "2026", "12", "03", "notes.jsonl");
    await touch("history.jsonl");
    expect(await devAgentHarness("codex")?.transcripts(home)).toEqual([rollout]);
  });

  it("Gemini CLI's transcripts are the chat files under <home>/.gemini/tmp/<project>/chats", async () => {
    const chat = await touch(".gemini", "tmp", "workspace", "chats", "session-2026-12-03T13-49-e2a44a2f.jsonl");
    await touch(".gemini", "tmp", "workspace", "logs.jsonl");
    expect(await devAgentHarness("gemini-cli")?.transcripts(home)).toEqual([chat]);
    expect(await devAgentHarness("gemini-cli")?.transcripts(join(home, "missing"))).toEqual([]);
  });

  it("earlierIn counts the replies before the last request carrying the text", () => {
    const requests = [
      { messages: [{ role: "user", text: "one" }] },
      {
        messages: [
          { role: "user", text: "one" },
          { role: "assistant", text: "hi" },
          { role: "user", text: "two" },
        ],
      },
    ];
    expect(earlierIn(requests, "one", "assistant")).toBe(1);
    expect(earlierIn(requests.slice(0, 1), "one", "assistant")).toBe(0);
    expect(earlierIn(requests, "three", "assistant")).toBeUndefined();
  });

  it("the install cache: MOLECULE_CACHE_DIR, else XDG_CACHE_HOME/molecule, else ~/.cache/molecule", () => {
    expect(agentCacheDir({ MOLECULE_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/c");
    expect(agentCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/molecule");
    expect(agentCacheDir({ HOME: "/h" })).toBe("/h/.cache/molecule");
  });

  it("every --scenario is played for another agent or says why it does not apply", () => {
    const names = SCENARIOS.map((s) => s.name);
    const played = AGENT_SCENARIOS.map((s) => s.name);
    expect(played.every((name) => names.includes(name))).toBe(true);
    expect(names.filter((name) => !played.includes(name))).toEqual(Object.keys(NOT_APPLICABLE));
  });
});
