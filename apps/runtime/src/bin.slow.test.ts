// The built daemon bin (`pnpm --filter @molecule/runtime build` first) as a child process: slow-tagged
// so that `pnpm test:fast` starts no daemon.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "@molecule/test-support";
import { describe, expect, it } from "vitest";
import { useHealthFixture } from "./test-support.js";

const BIN = join(import.meta.dirname, "..", "dist", "bin.js");

const fixture = useHealthFixture();
const { livez, writeConfig } = fixture;

describe("molecule-runtime (built bin)", () => {
  // Asynchronous: the /livez servers of these tests run in this process's event loop.
  const bin = (args: string[], env: Record<string, string> = {}) => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter @molecule/runtime build first`);
    return runProcess(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env } });
  };

  it("--version prints the package version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"));
    const run = await bin(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it("--help and healthcheck --help print the usage and exit 0; an unknown flag exits 2", async () => {
    const help = await bin(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("molecule-runtime healthcheck");
    expect((await bin(["healthcheck", "--help"])).code).toBe(0);
    const bad = await bin(["--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--bogus");
    expect((await bin(["healthcheck", "--port", "nope"])).code).toBe(2);
  });

  it("healthcheck exits 0 against a live /livez and 1 against a 503", async () => {
    const up = await livez(200);
    await writeConfig(up.port);
    const ok = await bin(["healthcheck"], { WORKSPACE_CONFIG_PATH: fixture.dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("healthy");
    const down = await livez(503);
    const bad = await bin(["healthcheck", "--config", fixture.dir, "--port", String(down.port)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("503");
  });

  it("creates a missing --workspace-dir before booting (then preflight fails without WORKSPACE_ID: exit 1)", async () => {
    const workspace = join(fixture.dir, "data", "workspace");
    const run = await bin(["--workspace-dir", workspace], { WORKSPACE_CONFIG_PATH: fixture.dir });
    expect(run.code).toBe(1);
    expect(existsSync(workspace)).toBe(true);
    const blocked = await bin(["--workspace-dir", join(BIN, "sub")]);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain("cannot create the workspace directory");
  });
});
