import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { healthcheck } from "./healthcheck.js";
import { useHealthFixture } from "./test-support.js";

const fixture = useHealthFixture();
const { livez, servers, writeConfig } = fixture;

describe("healthcheck", () => {
  it("reads a2a.port from config.yaml in WORKSPACE_CONFIG_PATH and is ok on a 200 from /livez", async () => {
    const server = await livez(200);
    await writeConfig(server.port);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: fixture.dir } });
    expect(result).toMatchObject({ ok: true, port: server.port, status: 200 });
    expect(server.paths).toEqual(["/livez"]);
  });

  it("configDir overrides WORKSPACE_CONFIG_PATH, as --config does for the daemon", async () => {
    const server = await livez(200);
    await writeConfig(server.port);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: "/nonexistent" }, configDir: fixture.dir });
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
    const missing = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: join(fixture.dir, "nowhere") } });
    expect(missing.ok).toBe(false);
    expect(missing.message).toContain(join(fixture.dir, "nowhere"));
  });

  it("refuses a2a.port 0 (the port is unknown) with the fix", async () => {
    await writeConfig(0);
    const result = await healthcheck({ env: { WORKSPACE_CONFIG_PATH: fixture.dir } });
    expect(result.ok).toBe(false);
    expect(result.message).toContain("set a2a.port");
  });
});
