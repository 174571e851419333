/**
 * Helpers for this package's tests (not part of the public API, not in the build). Helpers the
 * tests of several packages share live in @molecule/test-support.
 * @internal
 */
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach } from "vitest";

/** A loopback server answering /livez with `status` (or never, for "hang"); pushed onto `servers` to close. */
async function livezServer(status: number | "hang", servers: Server[]): Promise<{ port: number; paths: string[] }> {
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

export interface HealthFixture {
  /** A fresh temp dir for each test (removed after it). */
  readonly dir: string;
  /** The /livez servers started by this test (closed after it). */
  readonly servers: Server[];
  /** A loopback server answering /livez with `status` (or never, for "hang"). */
  livez(status: number | "hang"): Promise<{ port: number; paths: string[] }>;
  /** A minimal config.yaml in `dir` with `a2a.port`. */
  writeConfig(port: number): Promise<void>;
}

/** The healthcheck tests' setup (healthcheck.test.ts, bin.slow.test.ts): registers its own beforeEach/afterEach. */
export function useHealthFixture(): HealthFixture {
  let dir = "";
  const servers: Server[] = [];
  beforeEach(async () => {
    dir = await tempDir("molecule-healthcheck-");
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    await removeDir(dir);
  });
  return {
    get dir() {
      return dir;
    },
    servers,
    livez: (status) => livezServer(status, servers),
    writeConfig: (port) =>
      writeFile(join(dir, "config.yaml"), `name: hc\nruntime: claude-code\na2a:\n  port: ${port}\n`),
  };
}
