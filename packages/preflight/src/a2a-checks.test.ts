import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { a2aAuthCheck } from "./a2a-checks.js";
import { baseEnv, config, removeDir, runOne, tempDir } from "./testing.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const TOKEN = "s3cret-token-0123456789abcdef";
const codes = (r: { failures: { code: string }[]; warnings: { code: string }[] }) => [
  ...r.failures.map((f) => f.code),
  ...r.warnings.map((w) => w.code),
];
const noPlatform = () => ({ ...baseEnv(dir), PLATFORM_URL: undefined });

describe("a2a-auth", () => {
  it("says nothing for auth: none that is not allowed beyond loopback (the daemon refuses that at boot)", async () => {
    const r = await runOne(a2aAuthCheck, { env: baseEnv(dir), config: config({}), configDir: dir });
    expect(codes(r)).toEqual([]);
    expect(r.checks[1]?.detail).toBe("none (loopback only)");
  });

  it("warns W_A2A_UNAUTHENTICATED, naming the NetworkPolicy, when none is allowed by the config or the env var", async () => {
    const byConfig = await runOne(a2aAuthCheck, {
      env: baseEnv(dir),
      config: config({ a2a: { allow_unauthenticated: true } }),
      configDir: dir,
    });
    expect(codes(byConfig)).toEqual(["W_A2A_UNAUTHENTICATED"]);
    expect(byConfig.warnings[0]?.fix).toContain("NetworkPolicy");
    const byEnv = await runOne(a2aAuthCheck, {
      env: baseEnv(dir, { MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1" }),
      config: config({}),
      configDir: dir,
    });
    expect(codes(byEnv)).toEqual(["W_A2A_UNAUTHENTICATED"]);
    expect(byEnv.warnings[0]?.detail).toContain("MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1");
  });

  it("passes bearer with a token file of several tokens (relative to the config dir), never quoting one", async () => {
    await writeFile(join(dir, "a2a-tokens"), `${TOKEN}\n\n${TOKEN}-next\n`);
    const r = await runOne(a2aAuthCheck, {
      env: noPlatform(),
      config: config({ a2a: { auth: "bearer", auth_token_file: "a2a-tokens" } }),
      configDir: dir,
    });
    expect(codes(r)).toEqual([]);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it("fails E_A2A_AUTH_TOKEN_FILE for bearer without a file, a missing, unreadable, empty or short-token file", async () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, "is not set"],
      ["absent", "does not exist"],
      ["empty", "holds no token"],
      ["short", "shorter than 16"],
    ];
    await writeFile(join(dir, "empty"), "\n \n");
    await writeFile(join(dir, "short"), `${TOKEN}\nx\n`);
    for (const [file, detail] of cases) {
      const r = await runOne(a2aAuthCheck, {
        env: noPlatform(),
        config: config({ a2a: { auth: "bearer", ...(file ? { auth_token_file: file } : {}) } }),
        configDir: dir,
      });
      expect(codes(r)).toEqual(["E_A2A_AUTH_TOKEN_FILE"]);
      expect(r.failures[0]?.detail).toContain(detail);
      expect(JSON.stringify(r)).not.toContain(TOKEN);
    }
    if (process.getuid?.() !== 0) {
      await writeFile(join(dir, "locked"), `${TOKEN}\n`);
      await chmod(join(dir, "locked"), 0o000);
      const r = await runOne(a2aAuthCheck, {
        env: noPlatform(),
        config: config({ a2a: { auth: "bearer", auth_token_file: "locked" } }),
        configDir: dir,
      });
      expect(r.failures[0]?.detail).toContain("cannot be read (EACCES)");
    }
  });

  it("warns W_A2A_PLATFORM_NO_TOKEN for bearer with a PLATFORM_URL: the platform's proxy sends no token", async () => {
    await writeFile(join(dir, "a2a-tokens"), `${TOKEN}\n`);
    const r = await runOne(a2aAuthCheck, {
      env: baseEnv(dir),
      config: config({ a2a: { auth: "bearer", auth_token_file: join(dir, "a2a-tokens") } }),
      configDir: "/nonexistent",
    });
    expect(codes(r)).toEqual(["W_A2A_PLATFORM_NO_TOKEN"]);
  });
});
