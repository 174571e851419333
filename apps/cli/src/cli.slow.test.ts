import { chmod, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLAUDE_BIN_DIR, OFFLINE_CLAUDE_ENV, type ProcessResult, REPO_ROOT, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBin } from "./test-util.js";

// Runs the built bin (`pnpm run build` first; turbo's test task depends on build) as a child process.
const EXAMPLE = join(REPO_ROOT, "examples/workspace");
const WORKSPACE_ID = "3f2c1b7e-9a4d-4c2e-8f1a-0b6d5e7c9a21";
const WITH_CLAUDE = `${CLAUDE_BIN_DIR}:/usr/bin:/bin`;
const WITHOUT_CLAUDE = "/usr/bin:/bin";

type Run = ProcessResult;

let tmp: string;
let home: string;
beforeEach(async () => {
  tmp = await tempDir("molecule-cli-");
  home = join(tmp, "home");
  await mkdir(home);
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function molecule(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<Run> {
  const env: Record<string, string> = {
    HOME: home,
    PATH: WITH_CLAUDE,
    WORKSPACE_ID,
    PLATFORM_URL: "http://localhost:8080",
    ...OFFLINE_CLAUDE_ENV,
  };
  for (const [k, v] of Object.entries(extraEnv)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return runBin(args, { cwd: tmp, env, timeoutMs: 20_000 });
}

interface JsonReport {
  ok: boolean;
  failures: { code: string; check: string; detail: string; fix: string }[];
  warnings: { code: string; check: string; detail: string }[];
  checks: { name: string; status: string; detail?: string }[];
}

const json = (run: Run): JsonReport => JSON.parse(run.stdout) as JsonReport;
const status = (report: JsonReport, name: string) => report.checks.find((c) => c.name === name)?.status;

async function workspace(configYaml?: string): Promise<string> {
  const dir = join(tmp, "ws");
  await cp(EXAMPLE, dir, { recursive: true });
  if (configYaml !== undefined) await writeFile(join(dir, "config.yaml"), configYaml);
  return dir;
}

async function credentials(expiresAt: number, refreshToken?: string) {
  await mkdir(join(home, ".claude"), { recursive: true });
  const oauth = {
    accessToken: "at-secret",
    scopes: ["user:inference"],
    expiresAt,
    ...(refreshToken ? { refreshToken } : {}),
  };
  await writeFile(join(home, ".claude", ".credentials.json"), JSON.stringify({ claudeAiOauth: oauth }), {
    mode: 0o600,
  });
}

describe("molecule preflight", () => {
  it("the README command: example workspace, auth gate off, real claude → exit 0", async () => {
    const run = await molecule(["preflight", "--config", EXAMPLE, "--no-auth"]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain("[FAIL]");
    expect(run.stdout).toContain("[WARN] Agent auth gate is off");
    // The example allows unauthenticated A2A beyond loopback (a2a.allow_unauthenticated): said, not silent.
    expect(run.stdout).toContain("[WARN] A2A accepts unauthenticated callers");
    expect(run.stdout).toMatch(/Preflight passed: \d+ checks, 2 warnings\b/);
    expect(run.stderr).toBe("");
  });

  it("a good workspace with a valid login passes silently but for the summary; --json shows the version", async () => {
    await credentials(Date.now() + 7 * 86_400_000);
    // On loopback: without the example's deliberate a2a.allow_unauthenticated (which warns).
    const example = await readFile(join(EXAMPLE, "config.yaml"), "utf8");
    const dir = await workspace(example.replace("allow_unauthenticated: true", "allow_unauthenticated: false"));
    const text = await molecule(["preflight", "--config", dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toContain("Preflight checks:");
    // agent-endpoint is skipped for a CLI agent (it talks to no model endpoint of its own).
    expect(text.stdout).toMatch(/^Preflight passed: \d+ checks, 0 warnings, 1 skipped\.\n$/);
    const report = json(await molecule(["preflight", "--config", dir, "--json"]));
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === "agent-binary")?.detail).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)$/);
    expect(status(report, "agent-auth")).toBe("pass");
    expect(JSON.stringify(report)).not.toContain("at-secret");
  });

  it("WORKSPACE_CONFIG_PATH works like --config", async () => {
    const run = await molecule(["preflight", "--no-auth"], { WORKSPACE_CONFIG_PATH: EXAMPLE });
    expect(run.code).toBe(0);
  });

  it("missing config → exit 1 with E_CONFIG_MISSING, config-dependent checks skipped", async () => {
    const run = await molecule(["preflight", "--config", join(tmp, "nowhere"), "--json"]);
    expect(run.code).toBe(1);
    const report = json(run);
    expect(report.failures.map((f) => f.code)).toContain("E_CONFIG_MISSING");
    expect(status(report, "runtime")).toBe("skip");
    expect(status(report, "agent-binary")).toBe("skip");
    expect(status(report, "workspace-id")).toBe("pass");
    const text = await molecule(["preflight", "--config", join(tmp, "nowhere")]);
    expect(text.stdout).toContain("[FAIL] config.yaml missing:");
    expect(text.stdout).toContain("  Fix: ");
  });

  it("YAML syntax error → exit 1 naming line and column", async () => {
    const dir = await workspace("name: x\nrole: [oops\ntier: 1\n");
    const run = await molecule(["preflight", "--config", dir, "--no-auth"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/\[FAIL\] config.yaml is not valid YAML: .*line \d+, column \d+/);
    expect(run.stderr).toBe("");
  });

  it("a schema error names the field and line, never a stack trace", async () => {
    const dir = await workspace("a2a:\n  port: abc\n");
    const run = await molecule(["preflight", "--config", dir, "--no-auth"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('[FAIL] config.yaml line 2: a2a.port: expected a number, got the string "abc"');
    expect(run.stdout).not.toMatch(/\n\s+at /);
  });

  it("a path escape → exit 1 with E_CONFIG_PATH_ESCAPE", async () => {
    const dir = await workspace("prompt_files:\n  - ../../etc/passwd\n");
    const run = await molecule(["preflight", "--config", dir, "--json", "--no-auth"]);
    expect(run.code).toBe(1);
    expect(json(run).failures).toMatchObject([{ code: "E_CONFIG_PATH_ESCAPE", check: "config" }]);
  });

  it("missing WORKSPACE_ID and PLATFORM_URL → exit 1, one failure each", async () => {
    const run = await molecule(["preflight", "--config", EXAMPLE, "--no-auth", "--json"], {
      WORKSPACE_ID: undefined,
      PLATFORM_URL: undefined,
    });
    expect(run.code).toBe(1);
    const report = json(run);
    expect(report.failures.map((f) => [f.check, f.code])).toEqual([
      ["workspace-id", "E_ENV_MISSING"],
      ["platform-url", "E_ENV_MISSING"],
    ]);
  });

  it("real claude absent from PATH → exit 1 with E_AGENT_BINARY_MISSING", async () => {
    const run = await molecule(["preflight", "--config", EXAMPLE, "--no-auth"], { PATH: WITHOUT_CLAUDE });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("[FAIL] Agent binary not found: claude is not on PATH");
  });

  it("expired credentials → exit 1 with a re-login fix; refreshable ones only warn", async () => {
    await credentials(Date.now() - 3_600_000);
    const run = await molecule(["preflight", "--config", EXAMPLE]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("[FAIL] Agent is not logged in:");
    expect(run.stdout).toContain("expired at");
    expect(run.stdout).toContain("/login");
    await credentials(Date.now() - 3_600_000, "rt-secret");
    const refreshable = await molecule(["preflight", "--config", EXAMPLE]);
    expect(refreshable.code).toBe(0);
    expect(refreshable.stdout).toContain("[WARN] Agent access token expired");
    expect(refreshable.stdout).not.toContain("rt-secret");
  });

  it("warnings never change the exit code (missing skill)", async () => {
    const dir = await workspace();
    await rm(join(dir, "skills"), { recursive: true });
    const run = await molecule(["preflight", "--config", dir, "--no-auth"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("[WARN] Skill missing:");
  });

  it("--config moves the token dir with it unless CONFIGS_DIR is set", async () => {
    const dir = await workspace();
    await writeFile(join(dir, ".auth_token"), "tok\n");
    await chmod(join(dir, ".auth_token"), 0o644);
    const run = await molecule(["preflight", "--config", dir, "--no-auth"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Run chmod 600 ${join(dir, ".auth_token")}.`);
    const elsewhere = await molecule(["preflight", "--config", dir, "--no-auth"], { CONFIGS_DIR: home });
    expect(elsewhere.stdout).not.toContain("chmod 600");
  });

  it("--no-agent skips the agent checks with a warning", async () => {
    const run = await molecule(["preflight", "--config", EXAMPLE, "--no-agent", "--json"], { PATH: WITHOUT_CLAUDE });
    expect(run.code).toBe(0);
    const report = json(run);
    expect(report.warnings.map((w) => w.code)).toEqual(["W_A2A_UNAUTHENTICATED", "W_AGENT_CHECKS_OFF"]);
    expect(report.checks.map((c) => c.name)).not.toContain("agent-binary");
  });

  it("no colours when stdout is not a TTY", async () => {
    const run = await molecule(["preflight", "--config", join(tmp, "nowhere")]);
    expect(run.stdout).not.toContain("\u001b[");
  });
});

describe("usage errors exit 2, help and version exit 0", () => {
  it.each([
    [["--bogus"]],
    [["preflight", "--bogus"]],
    [["preflight", "extra"]],
    [["nosuch"]],
    [[]],
    [["preflight", "--config"]],
  ])("%j → 2", async (args) => {
    const run = await molecule(args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toBe("");
  });
  it.each([[["--help"]], [["preflight", "--help"]], [["--version"]]])("%j → 0", async (args) => {
    const run = await molecule(args);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toBe("");
  });
});
