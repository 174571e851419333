import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type PinnedAgentCli, realAgentBin } from "@molecule/test-support";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runBin } from "./test-util.js";

// `molecule dev --agent <id>` as a user runs it: the built bin, stdin not a TTY, the real pinned CLI
// against testkit's fake of its model API. The CLIs come from the install cache (realAgentBin fills
// it on first use), so the runs below download nothing.
const AGENTS: ReadonlyArray<{ id: PinnedAgentCli; api: string; label: string }> = [
  { id: "codex", api: "OpenAI Responses API", label: "Codex CLI 0.169.0" },
  { id: "gemini-cli", api: "Gemini API", label: "Gemini CLI 0.61.0" },
];

let cacheDir: string;
beforeAll(async () => {
  const bins = await Promise.all(AGENTS.map((agent) => realAgentBin(agent.id)));
  // <cache>/agents/<name>-<version>/node_modules/.bin/<bin>
  cacheDir = dirname(dirname(dirname(dirname(dirname(bins[0] ?? "")))));
}, 600_000);

let tmp: string;
let env: Record<string, string>;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-dev-agent-test-"));
  await mkdir(join(tmp, "home"));
  env = { HOME: join(tmp, "home"), PATH: `${process.env.PATH}`, TMPDIR: tmp, MOLECULE_CACHE_DIR: cacheDir };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const dev = (args: string[]) => runBin(["dev", ...args], { env, cwd: tmp, timeoutMs: 110_000, killGroup: true });

describe.each(AGENTS)("molecule dev --agent $id", ({ id, api, label }) => {
  it("two scripted messages through the real CLI: both answered, the second resumed the first", async () => {
    const run = await dev(["--agent", id]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(`driving the real ${label}, all on loopback`);
    expect(run.stdout).not.toContain("installing");
    expect(run.stdout).toContain(
      `← reply: Hello from the fake ${api}: this is a fresh conversation (no earlier turns).`,
    );
    expect(run.stdout).toContain(
      `← reply: Hello again from the fake ${api}: I can see 1 earlier turn of this conversation.`,
    );
    expect(run.stdout).toContain("✓ message 2 resumed the session of message 1: the model saw 1 earlier turn");
    expect(run.stdout).toMatch(/Platform's final view: status online, beats \d+ ok, runtime_state "", error_rate 0/);
    expect(run.code).toBe(0);
    // The daemon's log never holds the dummy key.
    const log = run.stdout.match(/daemon log: +(\S+\.log)/)?.[1] ?? "";
    expect(await readFile(log, "utf8")).not.toContain("molecule-dev-fake-key");
  }, 120_000);

  it("--scenario stale-session: the transcript is deleted, message 2 starts fresh and the caller never sees it", async () => {
    const run = await dev(["--agent", id, "--scenario", "stale-session"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(`molecule dev --agent ${id} --scenario stale-session:`);
    expect(run.stdout).toMatch(/→ deleting the .*'s transcript: \S+\.jsonl/);
    expect(run.stdout).toContain("✓ the fake model's request for message 2 had no earlier turns");
    expect(run.stdout).toContain("✓ the caller got an answer both times");
    expect(run.stdout).toContain("PASS stale-session");
    expect(run.code).toBe(0);
  }, 120_000);
});
