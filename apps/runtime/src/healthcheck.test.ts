import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { healthcheck } from "./healthcheck.js";

const BIN = join(import.meta.dirname, "..", "dist", "bin.js");

let dir: string;
const servers: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-healthcheck-"));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

/** A loopback server answering /livez with `status` (or never, for "hang"). */
async function livez(status: number | "hang"): Promise<{ port: number; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    if (status === "hang") return;
    res.writeHead(req.url === "/livez" ? status : 404).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, paths };
}

async function writeConfig(port: number): Promise<void> {
  await writeFile(join(dir, "config.yaml"), `name: hc\nruntime: claude-code\na2a:\n  port: ${port}\n`);
}

describe("healthcheck", () => {
  it("reads a2a.port from config.yaml in WORKSPACE_CONFIG_PATH and is ok on a 200 from /livez", async () => {
    const server = await livez(200);
    await writeConfig(server.port);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: dir } });
    expect(result).toMatchObject({ ok: true, port: server.port, status: 200 });
    expect(server.paths).toEqual(["/livez"]);
  });

  it("configDir overrides WORKSPACE_CONFIG_PATH, as --config does for the daemon", async () => {
    const server = await livez(200);
    await writeConfig(server.port);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: "/nonexistent" }, configDir: dir });
    expect(result.ok).toBe(true);
  });

  it("is unhealthy on a 503 (wedged), naming the status", async () => {
    const server = await livez(503);
    const result = await healthcheck({ env: {}, port: server.port });
    expect(result).toMatchObject({ ok: false, status: 503 });
    expect(result.message).toContain("503");
  });

  it("gives up after the timeout when the daemon does not answer", async () => {
    const server = await livez("hang");
    const t0 = Date.now();
    const result = await healthcheck({ env: {}, port: server.port, timeoutMs: 200 });
    expect(result.ok).toBe(false);
    expect(result.message).toContain("200 ms");
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("is unhealthy when nothing listens, and when config.yaml cannot be read", async () => {
    const server = await livez(200);
    const port = server.port;
    await new Promise((resolve) => servers.pop()?.close(resolve));
    expect((await healthcheck({ env: {}, port })).message).toContain("ECONNREFUSED");
    const missing = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: join(dir, "nowhere") } });
    expect(missing.ok).toBe(false);
    expect(missing.message).toContain(join(dir, "nowhere"));
  });

  it("refuses a2a.port 0 (the port is unknown) with the fix", async () => {
    await writeConfig(0);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: dir } });
    expect(result.ok).toBe(false);
    expect(result.message).toContain("set a2a.port");
  });
});

describe("molecule-runtime (built bin)", () => {
  // Asynchronous: the /livez servers of these tests run in this process's event loop.
  const bin = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run pnpm --filter @molecule/runtime build first`);
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  };

  it("--version prints the package version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8"));
    const run = await bin(["--version"]);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it("--help and healthcheck --help print the usage and exit 0; an unknown flag exits 2", async () => {
    const help = await bin(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("molecule-runtime healthcheck");
    expect((await bin(["healthcheck", "--help"])).status).toBe(0);
    const bad = await bin(["--bogus"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--bogus");
    expect((await bin(["healthcheck", "--port", "nope"])).status).toBe(2);
  });

  it("healthcheck exits 0 against a live /livez and 1 against a 503", async () => {
    const up = await livez(200);
    await writeConfig(up.port);
    const ok = await bin(["healthcheck"], { WORKSPACE_CONFIG_PATH: dir });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain("healthy");
    const down = await livez(503);
    const bad = await bin(["healthcheck", "--config", dir, "--port", String(down.port)]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("503");
  });

  it("creates a missing --workspace-dir before booting (then preflight fails without WORKSPACE_ID: exit 1)", async () => {
    const workspace = join(dir, "data", "workspace");
    const run = await bin(["--workspace-dir", workspace], { WORKSPACE_CONFIG_PATH: dir });
    expect(run.status).toBe(1);
    expect(existsSync(workspace)).toBe(true);
    const blocked = await bin(["--workspace-dir", join(BIN, "sub")]);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toContain("cannot create the workspace directory");
  });
});
