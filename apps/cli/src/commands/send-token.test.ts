import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Io } from "../io.js";
import { sendCommand } from "./send.js";

// `molecule send` to an endpoint that asks for a bearer token (a2a.auth: bearer), as a loopback
// HTTP server: the token comes from MOLECULE_A2A_TOKEN or --token-file; a 401 says what to do.
const TOKEN = "send-token-0123456789abcdef";

let dir: string;
let server: Server;
let url: string;
const seen: IncomingHttpHeaders[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-send-token-"));
  seen.length = 0;
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { "www-authenticate": "Bearer", "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Unauthorized" } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: "1",
          result: { kind: "message", role: "agent", parts: [{ kind: "text", text: "pong" }] },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}): Io & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env,
    out: () => out,
    err: () => err,
  };
}

describe("molecule send with a2a.auth: bearer", () => {
  it("sends the token from MOLECULE_A2A_TOKEN", async () => {
    const run = io({ MOLECULE_A2A_TOKEN: TOKEN });
    expect(await sendCommand(url, "ping", {}, run)).toBe(0);
    expect(run.out()).toBe("pong\n");
    expect(seen[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("--token-file wins over the env var (its first non-empty line)", async () => {
    await writeFile(join(dir, "token"), `\n${TOKEN}\nnext-token-0123456789\n`);
    const run = io({ MOLECULE_A2A_TOKEN: "stale-token-0123456789" });
    expect(await sendCommand(url, "ping", { tokenFile: join(dir, "token") }, run)).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("without a token: no Authorization header, and the 401 says where the token goes (exit 1)", async () => {
    const run = io();
    expect(await sendCommand(url, "ping", {}, run)).toBe(1);
    expect(seen[0]?.authorization).toBeUndefined();
    expect(run.err()).toContain("answered 401");
    expect(run.err()).toContain("MOLECULE_A2A_TOKEN");
    expect(run.err()).toContain("--token-file");
  });

  it("an unreadable or empty --token-file is an error naming the file, never a request", async () => {
    const missing = io();
    expect(await sendCommand(url, "ping", { tokenFile: join(dir, "absent") }, missing)).toBe(1);
    expect(missing.err()).toContain("ENOENT");
    await writeFile(join(dir, "empty"), "\n");
    const empty = io();
    expect(await sendCommand(url, "ping", { tokenFile: join(dir, "empty") }, empty)).toBe(1);
    expect(empty.err()).toContain("is empty");
    expect(seen).toHaveLength(0);
  });
});
