/**
 * Helpers for this package's tests (not part of the public API, not in the build). Helpers the
 * tests of several packages share live in @molecule/test-support.
 * @internal
 */
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** A loopback server answering /livez with `status` (or never, for "hang"); pushed onto `servers` to close. */
export async function livezServer(
  status: number | "hang",
  servers: Server[],
): Promise<{ port: number; paths: string[] }> {
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

/** A minimal config.yaml in `dir` with `a2a.port`. */
export async function writeHealthConfig(dir: string, port: number): Promise<void> {
  await writeFile(join(dir, "config.yaml"), `name: hc\nruntime: claude-code\na2a:\n  port: ${port}\n`);
}
