import { randomUUID } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OFFLINE_CLAUDE_ENV, REPO_ROOT, type StartedProcess, waitFor } from "@molecule/test-support";
import { fakeAgentCli, startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBin, startBin } from "./test-util.js";

// `molecule run` as a child process against the testkit platform with a fake agent, and the commands
// that talk to it: status and task (admin socket), send (A2A).
let tmp: string;
let platform: TestPlatform;
let daemon: StartedProcess;
let env: Record<string, string>;
let stateDir: string;
let url = "";
const workspaceId = randomUUID();

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-cli-run-"));
  const configs = join(tmp, "configs");
  stateDir = join(tmp, "state");
  await cp(join(REPO_ROOT, "examples/workspace"), configs, { recursive: true });
  await mkdir(join(tmp, "home"));
  await mkdir(join(tmp, "work"));
  // First turn ok, then every turn exits 0 with no output (a failed turn).
  const agent = await fakeAgentCli({
    dir: join(tmp, "agent"),
    behaviour: ["ok", "empty-output-exit-0"],
    reply: "pong",
  });
  const yaml = (await readFile(join(configs, "config.yaml"), "utf8"))
    .replace("  port: 8000", "  port: 0")
    .replace("  interval_seconds: 30", "  interval_seconds: 1")
    .replace("runtime_config:\n", `runtime_config:\n  command: ${JSON.stringify(agent)}\n`);
  await writeFile(join(configs, "config.yaml"), yaml);
  platform = await startTestPlatform();
  env = {
    ...OFFLINE_CLAUDE_ENV,
    HOME: join(tmp, "home"),
    PATH: `${process.env.PATH}`,
    WORKSPACE_ID: workspaceId,
    PLATFORM_URL: platform.url,
    HOSTNAME: "localhost",
    ANTHROPIC_API_KEY: "test-key-not-used",
    LOG_LEVEL: "warn",
  };
  daemon = startBin(
    ["run", "--config", configs, "--state-dir", stateDir, "--workspace-dir", join(tmp, "work"), "--grace", "3"],
    { env, cwd: tmp, timeoutMs: 60_000 },
  );
  await waitFor(() => platform.workspaces.get(workspaceId)?.status === "online", 20_000);
  url = (platform.workspaces.get(workspaceId)?.url ?? "").replace("localhost", "127.0.0.1");
  await waitFor(() =>
    stat(join(stateDir, "admin.sock")).then(
      () => true,
      () => false,
    ),
  );
}, 40_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  await platform?.close();
  await rm(tmp, { recursive: true, force: true });
});

const molecule = (args: string[], extra: Record<string, string> = {}) =>
  runBin(args, { env: { ...env, ...extra }, cwd: tmp });

describe("molecule status", () => {
  it("shows the daemon's view: platform status, registered, wedge, task, last turn, beats", async () => {
    await waitFor(async () => {
      const run = await molecule(["status", "--state-dir", stateDir, "--json"]);
      // The heartbeat reads the platform's view of itself every 5th beat.
      return run.code === 0 && (JSON.parse(run.stdout) as { platformStatus?: string }).platformStatus === "online";
    });
    const json = await molecule(["status", "--state-dir", stateDir, "--json"]);
    expect(json.code).toBe(0);
    const status = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      workspaceId,
      registered: true,
      platformStatus: "online",
      wedge: { wedged: false },
      currentTask: "",
    });
    const text = await molecule(["status", "--state-dir", stateDir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Workspace +\S+/m);
    expect(text.stdout).toMatch(/^Platform +online/m);
    expect(text.stdout).toMatch(/^Registered +yes$/m);
    expect(text.stdout).toMatch(/^Wedge +not wedged$/m);
    expect(text.stdout).toMatch(/^Beats +\d+ ok, 0 failed$/m);
    expect(text.stdout).not.toContain("\u001b[");
  });

  it("MOLECULE_STATE_DIR works like --state-dir", async () => {
    const run = await molecule(["status", "--json"], { MOLECULE_STATE_DIR: stateDir });
    expect(run.code).toBe(0);
  });

  it("no daemon → exit 1 with a clear error", async () => {
    const run = await molecule(["status", "--state-dir", join(tmp, "nothing-here")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("no daemon is running for this workspace");
    expect(run.stderr).toContain("molecule run");
  });
});

describe("molecule task", () => {
  it("sets the label through the daemon; the platform sees it; --clear clears it", async () => {
    const set = await molecule(["task", "Reviewing PR 42", "--state-dir", stateDir]);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("Current task: Reviewing PR 42\n");
    await waitFor(() => platform.workspaces.get(workspaceId)?.currentTask === "Reviewing PR 42");
    const status = await molecule(["status", "--state-dir", stateDir]);
    expect(status.stdout).toContain('"Reviewing PR 42"');
    const clear = await molecule(["task", "--clear", "--state-dir", stateDir, "--json"]);
    expect(clear.code).toBe(0);
    expect(JSON.parse(clear.stdout)).toEqual({ currentTask: "" });
    await waitFor(() => platform.workspaces.get(workspaceId)?.currentTask === "");
  });

  it.each([[["task"]], [["task", "x", "--clear"]]])("%j is a usage error (exit 2)", async (args) => {
    const run = await molecule([...args, "--state-dir", stateDir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("give a label, or --clear");
  });
});

describe("molecule send", () => {
  it("prints the reply; a failed turn prints the JSON-RPC error and exits 1", async () => {
    const ok = await molecule(["send", url, "ping"]);
    // stdout is the reply alone; stderr names the context that continues the conversation.
    expect(ok.stderr).toMatch(/^context: \S+ \(continue with --context-id \S+\)\n$/);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("pong\n");
    const failed = await molecule(["send", url, "ping again"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toMatch(/^molecule: JSON-RPC error -32000: .+ \{"outcome":"agent-error"\}\n$/);
    const json = await molecule(["send", url, "and again", "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 } });
    const streamed = await molecule(["send", url, "streamed", "--stream", "--context-id", "cli-ctx"]);
    expect(streamed.code).toBe(1);
    expect(streamed.stderr).toMatch(/^molecule: JSON-RPC error -32000: .+ \{"outcome":"agent-error"\}\n$/);
    await waitFor(() => (platform.workspaces.get(workspaceId)?.errorRate ?? 0) > 0);
    const status = await molecule(["status", "--state-dir", stateDir, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ lastOutcome: "agent-error" });
  });

  it("an unreachable URL → exit 1 naming it; not a URL → exit 2", async () => {
    const down = await molecule(["send", "http://127.0.0.1:1/", "hi", "--timeout", "5"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach http://127.0.0.1:1/");
    const bad = await molecule(["send", "not a url", "hi"]);
    expect(bad.code).toBe(2);
    const badTimeout = await molecule(["send", url, "hi", "--timeout", "-1"]);
    expect(badTimeout.code).toBe(2);
  });
});

describe("molecule run", () => {
  it("preflight failure → the report on stderr, exit 1", async () => {
    const run = await molecule(["run", "--config", join(tmp, "missing"), "--state-dir", join(tmp, "s2")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("config.yaml missing");
  });

  it("SIGTERM → graceful stop, exit 0, admin socket removed", async () => {
    daemon.child.kill("SIGTERM");
    const result = await daemon.exited;
    expect(result.code).toBe(0);
    await expect(stat(join(stateDir, "admin.sock"))).rejects.toThrow();
    const after = await molecule(["status", "--state-dir", stateDir]);
    expect(after.code).toBe(1);
  });
});
