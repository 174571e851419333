import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OFFLINE_CLAUDE_ENV, waitFor } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BIN, runBin, startBin } from "./test-util.js";

// `molecule dev` as CI and the README run it: the built bin, stdin not a TTY, nothing but loopback.
let tmp: string;
let env: Record<string, string>;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-dev-test-"));
  await mkdir(join(tmp, "home"));
  // No key, no login: `molecule dev` needs neither. TMPDIR keeps its temp dir and log inside ours.
  env = { ...OFFLINE_CLAUDE_ENV, HOME: join(tmp, "home"), PATH: `${process.env.PATH}`, TMPDIR: tmp };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const dev = (args: string[] = [], input?: string) =>
  runBin(["dev", ...args], { env, cwd: tmp, timeoutMs: 70_000, ...(input !== undefined ? { input } : {}) });

describe("molecule dev (non-TTY)", () => {
  it("sends two scripted messages through the real Claude Code CLI, prints replies and the platform's view, exits 0", async () => {
    const run = await dev([], "ignored piped input\n");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toContain('→ message 1: "Hello! Please introduce yourself in one sentence."');
    expect(out).toContain("← reply: Hello from the fake model API: this is a fresh conversation (no earlier turns).");
    expect(out).toContain(
      "← reply: Hello again from the fake model API: I can see 1 earlier turn of this conversation.",
    );
    expect(out).toContain("✓ message 2 resumed the session of message 1: the model saw 1 earlier turn");
    expect(out).toMatch(
      /Platform's final view: status online, beats \d+ ok, runtime_state "", error_rate 0, active_tasks 0/,
    );
    expect(out).toMatch(/daemon log: +(\S+\.log)/);
    expect(out).not.toContain("\u001b[");
    // The temp dir is removed; the daemon's log is kept, JSON lines, and never holds the dev key.
    const left = await readdir(tmp);
    expect(left.filter((n) => n.startsWith("molecule-dev-") && !n.endsWith(".log"))).toEqual([]);
    const log = out.match(/daemon log: +(\S+\.log)/)?.[1] ?? "";
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { event?: string }).event)).toContain("runtime.ready");
    expect(lines.join("\n")).not.toContain("molecule-dev-fake-key");
  }, 80_000);
});

describe("molecule dev (shutdown and TTY)", () => {
  it("SIGINT while a message is in flight → clean shutdown, exit 0", async () => {
    const run = startBin(["dev"], { env, cwd: tmp, timeoutMs: 60_000 });
    await waitFor(() => run.output().stdout.includes("→ message 1:"), 30_000);
    run.child.kill("SIGINT");
    const result = await run.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("stopped. Daemon log kept at");
    expect(result.stderr).toBe("");
  }, 60_000);

  // A real pseudo-terminal through util-linux `script` (Linux): the live status line, a typed message
  // answered over A2A, /status, and Ctrl-D → exit 0.
  it("TTY: status line, a typed message answered, /status, Ctrl-D exits 0", async () => {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} dev`;
    const run = spawn("script", ["-qfec", command, "/dev/null"], { cwd: tmp, env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    run.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    const exited = new Promise<number | null>((resolve) => run.on("close", resolve));
    const killer = setTimeout(() => run.kill("SIGKILL"), 55_000);
    await waitFor(() => /beats \d+ ok\/0 failed · not wedged · last turn none/.test(out), 30_000);
    run.stdin.write("hello there\r");
    await waitFor(() => out.includes("reply: Hello from the fake model API"), 30_000);
    await waitFor(() => out.includes("last turn ok"), 10_000);
    run.stdin.write("/status\r");
    await waitFor(() => out.includes("Platform sees:"), 10_000);
    run.stdin.write("\u0004");
    const code = await exited;
    clearTimeout(killer);
    expect(code).toBe(0);
    expect(out).toContain("\u001b[32monline");
    expect(out).toContain("stopped. Daemon log kept at");
  }, 60_000);
});

describe("molecule dev --scenario", () => {
  it.each([
    ["stale-session", ["✓ the fake model's request for message 2 had no earlier turns", "never saw a failed turn"]],
    [
      "logged-out",
      ["[FAIL] Agent is not logged in", "(outcome: auth)", "GET /readyz → 503", "the platform saw the failed turn"],
    ],
    ["wedge", ['runtime_state "wedged"', "GET /livez → 503", "a successful turn cleared the wedge"]],
    ["token-rotation", ["0 answered 401", "picked up the new token"]],
    ["platform-outage", ["platform down", "recovered on their own"]],
    ["empty-output", ["(outcome: agent-error)", "the platform saw error_rate 1"]],
  ])(
    "%s: the failure is caught and shown, exit 0",
    async (name, lines) => {
      const run = await dev(["--scenario", name]);
      expect(run.stderr).toBe("");
      for (const line of lines) expect(run.stdout).toContain(line);
      expect(run.stdout).toContain(`PASS ${name}: the failure was caught and shown`);
      expect(run.code).toBe(0);
    },
    80_000,
  );

  it("an unknown scenario is a usage error (exit 2)", async () => {
    const run = await dev(["--scenario", "nope"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("stale-session");
  });

  it("--live-model with --scenario is a usage error (exit 2)", async () => {
    const run = await dev(["--scenario", "wedge", "--live-model"]);
    expect(run.code).toBe(2);
  });

  it("a --config dir without config.yaml → exit 1 naming it", async () => {
    const run = await dev(["--config", join(tmp, "nowhere")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(join(tmp, "nowhere", "config.yaml"));
  });
});
