import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createFakeClock, type FakeClock } from "@molecule/testkit";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHttpClient, type HttpClient, type HttpResult, loadUndici } from "./http.js";

// On a cold start a client's first request goes on Node's fetch (undici is imported after it), the
// next ones on its own undici Agent: both must answer alike — status, body, bounded reads, timeouts,
// errors. (`fetchFirst` makes every client here start cold.)
let server: Server;
let base: string;
let clock: FakeClock;
/** The user-agent each request came with: fetch says "node", undici's request() sends none. */
const agents: Array<string | undefined> = [];
let handler: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  await loadUndici(); // so a client moves to undici right after its first request
});
beforeEach(async () => {
  clock = createFakeClock(1_000);
  agents.length = 0;
  server = createServer((req, res) => {
    agents.push(req.headers["user-agent"]);
    req.resume();
    req.on("end", () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The same request twice on one client: the first on fetch, the second on undici. */
async function twice(client: HttpClient, send: () => Promise<HttpResult>): Promise<[HttpResult, HttpResult]> {
  const first = await send();
  await new Promise((resolve) => setImmediate(resolve)); // undici's import settles
  const second = await send();
  expect(agents).toEqual(["node", undefined]);
  await client.close();
  return [first, second];
}
const strip = (r: HttpResult) => (r.kind === "response" ? { ...r, headers: { ct: r.headers["content-type"] } } : r);

describe("createHttpClient: fetch first, then undici, alike", () => {
  it("a JSON answer: status, body, headers; a redirect is not followed", async () => {
    handler = (req, res) => {
      if (req.url === "/moved") {
        res.writeHead(302, { location: "/elsewhere" }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
    };
    const client = createHttpClient({ clock, fetchFirst: true });
    const req = { method: "POST" as const, url: `${base}/x`, headers: {}, body: { a: 1 }, timeoutMs: 5_000 };
    const [a, b] = await twice(client, () => client.send(req));
    expect(strip(a)).toEqual({
      kind: "response",
      status: 200,
      text: '{"status":"ok"}',
      headers: { ct: "application/json" },
    });
    expect(strip(b)).toEqual(strip(a));
    agents.length = 0;
    const moved = createHttpClient({ clock, fetchFirst: true });
    const [c, d] = await twice(moved, () =>
      moved.send({ method: "GET", url: `${base}/moved`, headers: {}, timeoutMs: 5_000 }),
    );
    expect([c.kind === "response" && c.status, d.kind === "response" && d.status]).toEqual([302, 302]);
  });

  it("bounded reads: a declared and a streamed body over the limit are refused unread", async () => {
    handler = (req, res) => {
      if (req.url === "/declared") {
        res.writeHead(200, { "content-length": "5000" }).end("x".repeat(5000));
        return;
      }
      res.writeHead(200); // chunked: no content-length
      res.write("y".repeat(3000));
      res.end("y".repeat(3000));
    };
    for (const [path, declared] of [
      ["/declared", 5000],
      ["/streamed", undefined],
    ] as const) {
      agents.length = 0;
      const client = createHttpClient({ clock, fetchFirst: true });
      const req = { method: "GET" as const, url: `${base}${path}`, headers: {}, timeoutMs: 5_000, maxBodyBytes: 1024 };
      const [a, b] = await twice(client, () => client.send(req));
      for (const r of [a, b]) expect(r).toMatchObject({ status: 200, text: "", tooLarge: { limit: 1024, declared } });
    }
  });

  it("a hung answer times out on the injected clock; a refused connection is a transport error naming it", async () => {
    handler = () => {}; // never answers
    const client = createHttpClient({ clock, fetchFirst: true });
    const req = { method: "GET" as const, url: `${base}/hang`, headers: {}, timeoutMs: 3_000 };
    const results: HttpResult[] = [];
    for (let i = 0; i < 2; i += 1) {
      const pending = client.send(req);
      while (agents.length <= i) await new Promise((resolve) => setTimeout(resolve, 2));
      await clock.advance(3_000);
      results.push(await pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(agents).toEqual(["node", undefined]);
    for (const r of results)
      expect(r).toEqual({ kind: "error", failure: "timeout", message: "no answer within 3000 ms" });
    await client.close();

    // a closed port, and port 1 (one of the ports fetch refuses outright; undici takes it)
    const spare = createServer();
    await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
    const closedPort = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    for (const port of [closedPort, 1]) {
      const refused = createHttpClient({ clock, fetchFirst: true });
      const closed = { method: "GET" as const, url: `http://127.0.0.1:${port}/`, headers: {}, timeoutMs: 3_000 };
      const a = await refused.send(closed);
      await new Promise((resolve) => setImmediate(resolve));
      const b = await refused.send(closed);
      for (const r of [a, b]) {
        expect(r).toMatchObject({ kind: "error", failure: "transport" });
        expect(r.kind === "error" && r.message).toContain("ECONNREFUSED");
      }
      await refused.close();
    }
  });

  it("once undici is loaded a new client starts on its Agent", async () => {
    handler = (_req, res) => res.end("ok");
    const client = createHttpClient({ clock });
    await client.send({ method: "GET", url: `${base}/`, headers: {}, timeoutMs: 3_000 });
    expect(agents).toEqual([undefined]);
    await client.close();
  });

  it("an aborted request is 'aborted' on both", async () => {
    handler = () => {};
    const client = createHttpClient({ clock, fetchFirst: true });
    const results: HttpResult[] = [];
    for (let i = 0; i < 2; i += 1) {
      const controller = new AbortController();
      const pending = client.send({
        method: "GET",
        url: `${base}/a`,
        headers: {},
        timeoutMs: 3_000,
        signal: controller.signal,
      });
      while (agents.length <= i) await new Promise((resolve) => setTimeout(resolve, 2));
      controller.abort();
      results.push(await pending);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(agents).toEqual(["node", undefined]);
    for (const r of results) expect(r).toEqual({ kind: "error", failure: "aborted", message: "aborted" });
    await client.close();
  });
});
