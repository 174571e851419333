import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type LogSink, sinkLogger } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { maskedExcerpt } from "../excerpt.js";
import { HeartbeatError, type RegisterOptions, register } from "../index.js";
import { createRig, type Rig } from "../test-support.js";
import { MAX_REGISTER_ANSWER_BYTES } from "./answer.js";

/** A token as the platform issues them: 32 random bytes, base64url (43 characters). */
const TOKEN = "Zq3xV9kPq2Lm8Rt5Yw1Nc7Bd4Hf6Gj0Ks2Ua9Ee3IoP";

let rig: Rig;
let log: LogSink;
let servers: Server[];

beforeEach(async () => {
  rig = await createRig({ register: false });
  log = sinkLogger({ now: () => rig.clock.now() });
  servers = [];
});
afterEach(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  await rig.close();
});

function options(platformUrl = rig.platform.url): RegisterOptions {
  return {
    platformUrl,
    workspaceId: rig.workspaceId,
    tokens: rig.tokens,
    url: "http://localhost:8000",
    agentCard: { name: "t", description: "t", version: "1.0.0", url: "http://localhost:8000" },
    signal: new AbortController().signal,
    logger: log.logger,
    clock: rig.clock,
    requestTimeoutMs: 1e9,
  };
}

async function refusal(platformUrl?: string): Promise<HeartbeatError> {
  const error = await register(options(platformUrl)).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!HeartbeatError.isInstance(error)) throw new Error(`expected a HeartbeatError, got ${String(error)}`);
  return error;
}

/** A loopback server answering every request 200 with `chunks`, streamed without a content-length. */
async function streaming(chunks: () => Iterable<string>): Promise<{ url: string; sent: () => number }> {
  let sent = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      const it = chunks()[Symbol.iterator]();
      const pump = () => {
        for (;;) {
          const next = it.next();
          if (next.done) return void res.end();
          sent += next.value.length;
          if (!res.write(next.value)) return void res.once("drain", pump);
        }
      };
      res.on("close", () => it.return?.());
      pump();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sent: () => sent };
}

describe("a register answer that is not the platform's never quotes a token", () => {
  it("a 5 MB 200 carrying a token is refused by its size, unread: the error names the platform, not a proxy", async () => {
    rig.platform.control.failNext("register", {
      status: 200,
      body: { status: "registered", auth_token: TOKEN, padding: "x".repeat(5_000_000) },
    });
    const error = await refusal();
    expect(error.code).toBe("E_REGISTER_REJECTED");
    expect(error.status).toBe(200);
    expect(error.message).toContain(`over the ${MAX_REGISTER_ANSWER_BYTES}-byte limit; not read`);
    expect(error.message).toContain(`the platform at PLATFORM_URL (${rig.platform.url})`);
    expect(error.message).toContain("revoke the workspace's token on the platform");
    expect(error.message).not.toContain("proxy");
    expect(error.message).not.toContain(TOKEN.slice(0, 8));
    expect(await rig.tokens.get()).toBeUndefined();
    expect(log.text()).not.toContain(TOKEN.slice(0, 8));
  });

  it("a body without a content-length stops being read at the limit: an endless one is refused too", async () => {
    const server = await streaming(function* () {
      yield `{"status":"registered","auth_token":"${TOKEN}","padding":"`;
      for (;;) yield "y".repeat(16_384); // never ends: reading it to the end would never settle
    });
    const error = await refusal(server.url);
    expect(error.message).toContain(`more than ${MAX_REGISTER_ANSWER_BYTES} bytes`);
    expect(error.message).not.toContain(TOKEN.slice(0, 8));
    expect(server.sent()).toBeGreaterThan(MAX_REGISTER_ANSWER_BYTES);
  });

  it("a token the 80-character excerpt would cut is masked whole, whatever its field", async () => {
    // The token straddles the excerpt's end: cut first and masked after, its first part used to show.
    const body = { note: "n".repeat(50), v: TOKEN };
    expect(JSON.stringify(body).indexOf(TOKEN)).toBeLessThan(80);
    expect(JSON.stringify(body).indexOf(TOKEN) + TOKEN.length).toBeGreaterThan(80);
    rig.platform.control.failNext("register", { status: 200, body });
    const error = await refusal();
    expect(error.message).toContain('HTTP 200 "{"note":"nnn');
    expect(error.message).toContain("[redacted]");
    expect(error.message).not.toContain(TOKEN.slice(0, 8));
    expect(error.message).toContain('is not {"status":"registered"}');
    expect(error.message).not.toContain("proxy");
  });

  it("a 5xx whose error text holds a token at the 200-character cut is masked in the retry's WARN", async () => {
    rig.platform.control.failNext("register", { status: 503, body: { error: `${"e".repeat(180)} ${TOKEN}` } });
    const done = register(options());
    await rig.platform.control.waitFor(() => log.lines.some((l) => l.obj.event === "register.failed"));
    await rig.clock.advance(120_000);
    await done;
    expect(log.text()).toContain("[redacted]");
    expect(log.text()).not.toContain(TOKEN.slice(0, 8));
  });
});

describe("maskedExcerpt", () => {
  it("masks before it cuts, and drops a token the look-at window cut", () => {
    expect(maskedExcerpt(`${"a ".repeat(30)}${TOKEN} tail`, 70)).toBe(`${"a ".repeat(30)}[redacted]…`);
    // The window (4096 characters) ends 44 characters into the token's run: none of it is shown.
    const long = `${"x ".repeat(2_026)}${TOKEN}${"z".repeat(10_000)}`;
    const out = maskedExcerpt(long, 10_000);
    expect(out).not.toContain(TOKEN.slice(0, 8));
    expect(out).toBe("x ".repeat(2_026));
    expect(maskedExcerpt("line\none\t\ttwo", 80)).toBe("line one two");
  });
});
