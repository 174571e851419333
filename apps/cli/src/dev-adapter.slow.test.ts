import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBin } from "./test-util.js";

// `molecule dev --agent adapter` as a user runs it: the built bin, stdin not a TTY, `runtime: adapter`
// loading the template adapter package examples/adapter-package (an echo agent) — no model API at all.

let tmp: string;
let env: Record<string, string>;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-dev-adapter-test-"));
  await mkdir(join(tmp, "home"));
  env = { HOME: join(tmp, "home"), PATH: `${process.env.PATH}`, TMPDIR: tmp, MOLECULE_CACHE_DIR: join(tmp, "cache") };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const dev = (args: string[]) => runBin(["dev", ...args], { env, cwd: tmp, timeoutMs: 110_000, killGroup: true });

describe("molecule dev --agent adapter", () => {
  it("two scripted messages, both answered by the echo adapter; the resume line says it does not apply", async () => {
    const run = await dev(["--agent", "adapter"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("runtime: adapter with the template adapter package");
    expect(run.stdout).toMatch(/adapter: +\S+examples[\\/]adapter-package \(runtime: adapter/);
    expect(run.stdout).toContain("← reply: echo: Hello! Please introduce yourself in one sentence.");
    expect(run.stdout).toContain("← reply: echo: What did I just ask you?");
    expect(run.stdout).toContain("the resume line does not apply");
    expect(run.stdout).not.toContain("resumed the session");
    expect(run.stdout).toMatch(/Platform's final view: status online, beats \d+ ok, runtime_state "", error_rate 0/);
    expect(run.code).toBe(0);
    const log = run.stdout.match(/daemon log: +(\S+\.log)/)?.[1] ?? "";
    const text = await readFile(log, "utf8");
    expect(text).toContain("echo adapter ready"); // the template's own createExecutor ran in the daemon
  }, 120_000);

  it("--adapter ./module loads that module instead of the template (a path from the current directory)", async () => {
    const module = [
      "export function createExecutor() {",
      '  return { name: "shout", checks: [], async runTurn(turn) { return { outcome: "ok", text: "SHOUT " + turn.text.toUpperCase() }; }, async close() {} };',
      "}",
    ].join("\n");
    await writeFile(join(tmp, "shout.mjs"), `${module}\n`);
    const run = await dev(["--agent", "adapter", "--adapter", "./shout.mjs"]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("runtime: adapter with ./shout.mjs");
    expect(run.stdout).toContain(`${join(tmp, "shout.mjs")} (runtime: adapter, runtime_config.module)`);
    expect(run.stdout).toContain("← reply: SHOUT WHAT DID I JUST ASK YOU?");
    expect(run.code).toBe(0);
  }, 120_000);

  it.each(["platform-outage", "token-rotation"])(
    "--scenario %s passes",
    async (scenario) => {
      const run = await dev(["--agent", "adapter", "--scenario", scenario]);
      expect(run.stderr).toBe("");
      expect(run.stdout).toContain(`PASS ${scenario}`);
      expect(run.code).toBe(0);
    },
    120_000,
  );
});
