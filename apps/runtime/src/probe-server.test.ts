import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createProbeServer, type ProbeRoutes } from "./probe-server.js";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function start(ready: boolean, auth?: ProbeRoutes["auth"]): Promise<string> {
  const errors: unknown[] = [];
  const created = createProbeServer({
    ...(auth ? { auth } : {}),
    livez: () => ({ ok: true, body: { ok: true } }),
    readyz: async () =>
      ready ? { ok: true, body: { ready: true } } : { ok: false, body: { ready: false, reasons: ["x"] } },
    metrics: async () => ({ contentType: "text/plain; version=0.0.4", body: "molecule_up 1\n" }),
    onError: (e) => errors.push(e),
  });
  server = created;
  await new Promise<void>((r) => created.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
}

describe("the probe listener", () => {
  it("answers /livez, /readyz and /metrics as the A2A port does", async () => {
    const base = await start(false);
    const livez = await fetch(`${base}/livez`);
    expect([livez.status, await livez.json()]).toEqual([200, { ok: true }]);
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ ready: false, reasons: ["x"] });
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect(await metrics.text()).toBe("molecule_up 1\n");
  });

  it("with a2a.metrics_auth, /metrics asks for the token here too; the probes stay open", async () => {
    // The gate as the daemon builds it is tested with inbound-auth; here only its answer matters.
    const auth: ProbeRoutes["auth"] = {
      metricsAuth: true,
      check: async (h) => (h === "Bearer right" ? { ok: true, caller: undefined } : { ok: false }),
    };
    const base = await start(true, auth);
    const denied = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer wrong" } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toContain("Bearer");
    expect(await denied.text()).not.toContain("wrong");
    expect((await fetch(`${base}/metrics`, { headers: { authorization: "Bearer right" } })).status).toBe(200);
    expect((await fetch(`${base}/livez`)).status).toBe(200);
  });

  it("serves nothing else: no A2A and no agent card there", async () => {
    const base = await start(true);
    const rpc = await fetch(base, { method: "POST", body: "{}" });
    expect(rpc.status).toBe(404);
    const card = await fetch(`${base}/.well-known/agent-card.json`);
    expect(card.status).toBe(404);
  });
});
