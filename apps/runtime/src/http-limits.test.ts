import type { Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { waitFor } from "@molecule/test-support";
import { afterEach, describe, expect, it } from "vitest";
import type { A2AService } from "./a2a/service.js";
import { createHttpServer } from "./http.js";
import { resolveLimits } from "./http-limits.js";

// Short limits so the test need not wait a minute; the defaults are 60 s / 60 s / 65 s.
const LIMITS = { headersTimeoutMs: 400, requestTimeoutMs: 600, keepAliveTimeoutMs: 300, maxConnections: 4 };

const unused = () => {
  throw new Error("not used by these tests");
};
const a2a: A2AService = {
  streaming: false,
  start: unused,
  get: unused,
  cancel: unused,
  ended: unused,
  subscribe: unused,
};

let server: Server | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** The daemon's HTTP server whose /readyz answers after `slowMs` (a response pending longer than every limit). */
async function start(slowMs: number, errors: unknown[] = [], aborts: unknown[] = []): Promise<number> {
  const created = createHttpServer({
    a2a,
    card: () => ({}),
    livez: () => ({ ok: true, body: { ok: true } }),
    readyz: () => new Promise((r) => setTimeout(() => r({ ok: true, body: { ready: true } }), slowMs)),
    metrics: async () => ({ contentType: "text/plain", body: "" }),
    onError: (e) => errors.push(e),
    onClientAbort: (e) => aborts.push(e),
    limits: LIMITS,
  });
  server = created;
  await new Promise<void>((r) => created.listen(0, "127.0.0.1", r));
  return (created.address() as AddressInfo).port;
}

/** Opens a raw socket; resolves with what the server sent once it closed the connection. */
function raw(port: number, talk: (s: Socket) => void): Promise<{ text: string }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    sockets.push(s);
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      text += d;
    });
    s.on("error", () => undefined);
    s.on("close", () => resolve({ text }));
    talk(s);
  });
}

describe("request-arrival limits on the daemon's server", () => {
  it("an idle socket that never sends a request is closed (headers deadline)", async () => {
    const port = await start(0);
    const idle = await raw(port, () => undefined);
    expect(idle.text).toContain("408");
  });

  it("a trickled body (one byte at a time, never complete) is dropped with 408, not held forever", async () => {
    const port = await start(0);
    const trickle = await raw(port, (s) => {
      s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
      const timer = setInterval(() => s.writable && s.write(" "), 100);
      s.on("close", () => clearInterval(timer));
    });
    expect(trickle.text).toContain("408");
  });

  it("a response pending longer than every limit still completes (no inactivity timeout)", async () => {
    const slowMs = 3 * LIMITS.requestTimeoutMs;
    const port = await start(slowMs);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true });
  });

  it("over the cap a new connection's request gets 503 with Retry-After; beyond twice the cap it is closed at once", async () => {
    const port = await start(0);
    const open = () =>
      new Promise<Socket>((r) => {
        const s = connect(port, "127.0.0.1", () => r(s));
        s.on("error", () => undefined);
        sockets.push(s);
      });
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, open));
    const over = await raw(port, (s) => s.write("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect(over.text).toMatch(/^HTTP\/1\.1 503 /);
    expect(over.text.toLowerCase()).toContain("retry-after: 5");
    expect(over.text).toContain("too many connections");
    // Twice the cap held (the over-cap ones waiting for their request): the next is closed without a word.
    const overHeld = await Promise.all(Array.from({ length: LIMITS.maxConnections }, open));
    const beyond = await raw(port, () => undefined);
    expect(beyond.text).toBe("");
    for (const s of [...held, ...overHeld]) s.destroy();
    // Once the held ones are gone, a new connection is served again.
    const served = () =>
      fetch(`http://127.0.0.1:${port}/livez`).then(
        (res) => res.status === 200,
        () => false,
      );
    await waitFor(served, 5_000);
  });

  it("headers can never be given longer than the whole request; defaults are a minute", () => {
    expect(resolveLimits({ headersTimeoutMs: 90_000, requestTimeoutMs: 1_000 }).headersTimeoutMs).toBe(1_000);
    expect(resolveLimits()).toEqual({
      headersTimeoutMs: 60_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
      maxConnections: 256,
    });
  });

  it("a client that hangs up mid-body is a client abort, not an ERROR", async () => {
    const errors: unknown[] = [];
    const aborts: unknown[] = [];
    const port = await start(0, errors, aborts);
    await raw(port, (s) => {
      s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", () => setTimeout(() => s.destroy(), 50));
    });
    await waitFor(() => errors.length + aborts.length > 0, 5_000);
    expect(errors).toEqual([]);
    expect(aborts).toHaveLength(1);
  });
});
