import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBin } from "./test-util.js";

// `molecule dev --agent ollama` as a user runs it: the built bin, stdin not a TTY, nothing to install —
// the daemon's own executor against testkit's fake OpenAI-compatible chat endpoint.

let tmp: string;
let env: Record<string, string>;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-dev-ollama-test-"));
  await mkdir(join(tmp, "home"));
  env = { HOME: join(tmp, "home"), PATH: `${process.env.PATH}`, TMPDIR: tmp, MOLECULE_CACHE_DIR: join(tmp, "cache") };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const dev = (args: string[]) => runBin(["dev", ...args], { env, cwd: tmp, timeoutMs: 110_000, killGroup: true });
const API = "OpenAI-compatible chat endpoint";

describe("molecule dev --agent ollama", () => {
  it("two scripted messages: both answered, the second carried the first (the daemon's own history)", async () => {
    const run = await dev(["--agent", "ollama"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("driving the real ollama executor, all on loopback");
    expect(run.stdout).toContain("no CLI: the daemon posts each turn and keeps the history in its state dir");
    expect(run.stdout).not.toContain("installing");
    expect(run.stdout).toContain(
      `← reply: Hello from the fake ${API}: this is a fresh conversation (no earlier turns).`,
    );
    expect(run.stdout).toContain(
      `← reply: Hello again from the fake ${API}: I can see 1 earlier turn of this conversation.`,
    );
    expect(run.stdout).toMatch(/Platform's final view: status online, beats \d+ ok, runtime_state "", error_rate 0/);
    expect(run.code).toBe(0);
    const log = run.stdout.match(/daemon log: +(\S+\.log)/)?.[1] ?? "";
    const text = await readFile(log, "utf8");
    expect(text).toContain('"usage":{"input_tokens"'); // the endpoint's usage on the turn's log line
    expect(text).not.toContain("molecule-dev-fake-key"); // the dummy gateway key is masked
  }, 120_000);

  it.each(["stale-session", "logged-out", "empty-output"])(
    "--scenario %s passes",
    async (scenario) => {
      const run = await dev(["--agent", "ollama", "--scenario", scenario]);
      expect(run.stderr).toBe("");
      expect(run.stdout).toContain(`PASS ${scenario}`);
      expect(run.code).toBe(0);
    },
    120_000,
  );
});
