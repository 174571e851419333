import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENTS } from "@molecule/auth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  authTokenFileCheck,
  promptFilesCheck,
  pushNotificationsCheck,
  requiredEnvAnyOfCheck,
  requiredEnvCheck,
  runtimeCheck,
  skillsCheck,
} from "./config-checks.js";
import { baseEnv, config, removeDir, runOne, tempDir } from "./testing.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const codes = (r: { failures: { code: string }[]; warnings: { code: string }[] }) => [
  ...r.failures.map((f) => f.code),
  ...r.warnings.map((w) => w.code),
];

describe("runtime", () => {
  it("passes for a known runtime", async () => {
    const r = await runOne(runtimeCheck, { env: baseEnv(dir), config: config({ runtime: "codex" }) });
    expect(r.ok).toBe(true);
    expect(r.checks[1]?.detail).toBe("codex");
  });
  it("fails for an unknown runtime, listing the known ones", async () => {
    const r = await runOne(runtimeCheck, { env: baseEnv(dir), config: config({ runtime: "langgraph" }) });
    expect(r.failures[0]?.code).toBe("E_RUNTIME_UNKNOWN");
    // Derived from the registry, so adding an agent to AGENTS does not break this test.
    expect(r.failures[0]?.fix).toContain([...AGENTS.map((agent) => agent.id), "command", "adapter"].join(", "));
  });
  it("reads the list from ctx.runtimes", async () => {
    const r = await runOne(runtimeCheck, {
      env: baseEnv(dir),
      config: config({ runtime: "langgraph" }),
      runtimes: ["langgraph"],
    });
    expect(r.ok).toBe(true);
  });
});

describe("required-env", () => {
  const cfg = config({ runtime_config: { required_env: ["FOO", "BAR"] } });
  it("passes when every variable is set", async () => {
    expect((await runOne(requiredEnvCheck, { env: baseEnv(dir, { FOO: "1", BAR: "2" }), config: cfg })).ok).toBe(true);
  });
  it("fails once per missing or empty variable", async () => {
    const r = await runOne(requiredEnvCheck, { env: baseEnv(dir, { FOO: "1", BAR: " " }), config: cfg });
    expect(r.failures).toMatchObject([{ code: "E_ENV_REQUIRED_MISSING" }]);
    expect(r.failures[0]?.detail).toContain("BAR");
  });
});

describe("required-env-any-of", () => {
  const cfg = config({ runtime_config: { required_env_any_of: [["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"]] } });
  it("passes when any one of the group is set", async () => {
    const r = await runOne(requiredEnvAnyOfCheck, { env: baseEnv(dir, { CLAUDE_CODE_OAUTH_TOKEN: "t" }), config: cfg });
    expect(r.ok).toBe(true);
  });
  it("fails when none of the group is set, naming them", async () => {
    const r = await runOne(requiredEnvAnyOfCheck, { env: baseEnv(dir, { ANTHROPIC_API_KEY: "" }), config: cfg });
    expect(r.failures[0]?.code).toBe("E_ENV_ANY_OF_MISSING");
    expect(r.failures[0]?.detail).toContain("ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN");
  });
});

describe("auth-token-file (deprecated)", () => {
  it("passes when not configured or when the file is readable", async () => {
    expect((await runOne(authTokenFileCheck, { env: baseEnv(dir), config: config() })).ok).toBe(true);
    await writeFile(join(dir, "token"), "secret-value\n");
    const cfg = config({ runtime_config: { auth_token_file: "token" } });
    const r = await runOne(authTokenFileCheck, { env: baseEnv(dir), config: cfg, configDir: dir });
    expect(r.ok).toBe(true);
    expect(JSON.stringify(r)).not.toContain("secret-value");
  });
  it("fails when the file is missing", async () => {
    const cfg = config({ runtime_config: { auth_token_file: join(dir, "absent") } });
    const r = await runOne(authTokenFileCheck, { env: baseEnv(dir), config: cfg, configDir: dir });
    expect(r.failures[0]?.code).toBe("E_AUTH_TOKEN_FILE_MISSING");
    expect(r.failures[0]?.fix).toContain("ANTHROPIC_API_KEY");
  });
  it("passes when the file is missing but the env alternative is set", async () => {
    const cfg = config({ runtime_config: { auth_token_file: join(dir, "absent"), auth_token_env: "MY_TOKEN" } });
    const r = await runOne(authTokenFileCheck, { env: baseEnv(dir, { MY_TOKEN: "x" }), config: cfg, configDir: dir });
    expect(r.ok).toBe(true);
    expect(r.checks[1]?.detail).toContain("using MY_TOKEN");
  });
});

describe("prompt-files", () => {
  it("passes when every prompt file exists", async () => {
    await writeFile(join(dir, "system-prompt.md"), "hi");
    await writeFile(join(dir, "idle.md"), "idle");
    const cfg = config({ prompt_files: ["system-prompt.md"], idle_prompt_file: "idle.md" });
    const r = await runOne(promptFilesCheck, { env: baseEnv(dir), config: cfg, configDir: dir });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "2 of 2 present" });
  });
  it("warns (never fails) for each missing file the config names", async () => {
    const cfg = config({ prompt_files: ["system-prompt.md"], shared_context: ["ctx.md"] });
    const r = await runOne(promptFilesCheck, { env: baseEnv(dir), config: cfg, configDir: dir });
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(["W_PROMPT_FILE_MISSING", "W_PROMPT_FILE_MISSING"]);
    expect(r.warnings[0]?.detail).toContain("system-prompt.md");
  });
  it("says nothing about a system-prompt.md the config never named (prompt_files absent)", async () => {
    const r = await runOne(promptFilesCheck, { env: baseEnv(dir), config: config({}), configDir: dir });
    expect(r.warnings).toEqual([]);
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "0 of 0 present" });
  });
});

describe("skills", () => {
  it("passes when skills/<name>/SKILL.md exists", async () => {
    await mkdir(join(dir, "skills", "review"), { recursive: true });
    await writeFile(join(dir, "skills", "review", "SKILL.md"), "# review");
    const r = await runOne(skillsCheck, { env: baseEnv(dir), config: config({ skills: ["review"] }), configDir: dir });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "review" });
  });
  it("warns when SKILL.md is missing", async () => {
    await mkdir(join(dir, "skills", "empty"), { recursive: true });
    const r = await runOne(skillsCheck, { env: baseEnv(dir), config: config({ skills: ["empty"] }), configDir: dir });
    expect(r.ok).toBe(true);
    expect(r.warnings).toMatchObject([{ code: "W_SKILL_MISSING" }]);
    expect(r.warnings[0]?.fix).toContain("skills/empty/SKILL.md");
  });
});

describe("a2a-push-notifications", () => {
  it("passes when off (the default), warns when on: nothing implements them", async () => {
    expect(codes(await runOne(pushNotificationsCheck, { env: baseEnv(dir), config: config({}) }))).toEqual([]);
    const on = await runOne(pushNotificationsCheck, {
      env: baseEnv(dir),
      config: config({ a2a: { push_notifications: true } }),
    });
    expect(on.ok).toBe(true);
    expect(codes(on)).toEqual(["W_PUSH_NOTIFICATIONS_UNSUPPORTED"]);
    expect(on.warnings[0]?.fix).toContain("push_notifications");
  });
});
