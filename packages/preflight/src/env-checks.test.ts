import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { environmentCheck, platformTokenCheck, platformUrlCheck, workspaceIdCheck } from "./env-checks.js";
import { baseEnv, removeDir, runOne, tempDir, WORKSPACE_ID } from "./testing.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

describe("workspace-id", () => {
  it("passes for a UUID", async () => {
    const r = await runOne(workspaceIdCheck, { env: baseEnv(dir) });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: WORKSPACE_ID });
  });
  it.each([
    [undefined, "E_ENV_MISSING"],
    ["ws-1", "E_ENV_INVALID"],
  ])("fails for %s", async (value, code) => {
    const r = await runOne(workspaceIdCheck, { env: baseEnv(dir, { WORKSPACE_ID: value }) });
    expect(r.failures).toMatchObject([{ code, title: "WORKSPACE_ID" }]);
    expect(r.failures[0]?.fix).toContain("WORKSPACE_ID");
  });
  it("runs even when the config did not load", async () => {
    const r = await runOne(workspaceIdCheck, { env: baseEnv(dir, { WORKSPACE_ID: "" }) });
    expect(r.checks[1]?.status).toBe("fail");
  });
});

describe("platform-url", () => {
  it("passes for an http(s) URL", async () => {
    const r = await runOne(platformUrlCheck, { env: baseEnv(dir, { PLATFORM_URL: "https://p.example/" }) });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "https://p.example" });
  });
  it.each([
    [undefined, "E_ENV_MISSING"],
    ["ftp://p.example", "E_ENV_INVALID"],
    ["localhost:8080", "E_ENV_INVALID"],
  ])("fails for %s", async (value, code) => {
    const r = await runOne(platformUrlCheck, { env: baseEnv(dir, { PLATFORM_URL: value }) });
    expect(r.failures).toMatchObject([{ code, title: "PLATFORM_URL" }]);
  });
});

describe("environment", () => {
  it("passes for well-formed optional settings", async () => {
    const r = await runOne(environmentCheck, { env: baseEnv(dir, { LOG_LEVEL: "debug" }) });
    expect(r.checks[1]?.status).toBe("pass");
  });
  it("reports a malformed advertise URL as a failure and an unknown log level as a warning", async () => {
    const r = await runOne(environmentCheck, {
      env: baseEnv(dir, { MOLECULE_ADVERTISE_URL: "nope", LOG_LEVEL: "loud" }),
    });
    expect(r.failures).toMatchObject([{ title: "MOLECULE_ADVERTISE_URL", code: "E_ENV_INVALID" }]);
    expect(r.warnings).toMatchObject([{ title: "LOG_LEVEL" }]);
  });
});

describe("platform-token", () => {
  const env = () => baseEnv(dir, { CONFIGS_DIR: dir });
  it("passes when the token file is absent (before the first register)", async () => {
    const r = await runOne(platformTokenCheck, { env: env() });
    expect(r.checks[1]?.status).toBe("pass");
    expect(r.checks[1]?.detail).toContain("absent");
  });
  it("passes for a 0600 token file, never showing the token", async () => {
    await writeFile(join(dir, ".auth_token"), "tok-very-secret\n", { mode: 0o600 });
    const r = await runOne(platformTokenCheck, { env: env() });
    expect(r.checks[1]).toMatchObject({ status: "pass" });
    expect(JSON.stringify(r)).not.toContain("tok-very-secret");
  });
  it("warns when the token file is group/world readable", async () => {
    await writeFile(join(dir, ".auth_token"), "t\n");
    await chmod(join(dir, ".auth_token"), 0o644);
    const r = await runOne(platformTokenCheck, { env: env() });
    expect(r.ok).toBe(true);
    expect(r.warnings).toMatchObject([{ code: "W_PLATFORM_TOKEN_MODE" }]);
    expect(r.warnings[0]?.fix).toBe(`Run chmod 600 ${join(dir, ".auth_token")}.`);
  });
  it("does not warn for a mounted Secret's 0440 file (the ..data symlink layout)", async () => {
    const data = join(dir, "..2026_11_25_14_00_00.1");
    await mkdir(data);
    await writeFile(join(data, ".auth_token"), "t\n");
    await chmod(join(data, ".auth_token"), 0o440);
    await symlink("..2026_11_25_14_00_00.1", join(dir, "..data"));
    await symlink("..data/.auth_token", join(dir, ".auth_token"));
    const r = await runOne(platformTokenCheck, { env: env() });
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([]);
    expect(r.checks[1]?.detail).toContain("mode 0440");
  });
  it("fails when the token path is not a readable file", async () => {
    await mkdir(join(dir, ".auth_token"));
    const r = await runOne(platformTokenCheck, { env: env() });
    expect(r.failures).toMatchObject([{ code: "E_PLATFORM_TOKEN_UNREADABLE" }]);
  });
});
