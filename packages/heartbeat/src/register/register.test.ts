import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type LogSink, sinkLogger } from "@molecule/test-support";
import type { FakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HeartbeatError, type RegisterAttempt, type RegisterOptions, type RegisterResult, register } from "../index.js";
import { createRig, type Rig, seeded } from "../test-support.js";

const CARD = { name: "test-agent", description: "t", version: "1.0.0", url: "http://localhost:8000" };

let rig: Rig;
let log: LogSink;
let attempts: RegisterAttempt[];

beforeEach(async () => {
  rig = await createRig({ register: false });
  log = sinkLogger({ now: () => rig.clock.now() });
  attempts = [];
});
afterEach(async () => {
  await rig.close();
});

function options(overrides: Partial<RegisterOptions> = {}): RegisterOptions {
  return {
    platformUrl: rig.platform.url,
    workspaceId: rig.workspaceId,
    tokens: rig.tokens,
    url: "http://localhost:8000",
    agentCard: CARD,
    signal: new AbortController().signal,
    logger: log.logger,
    clock: rig.clock,
    random: seeded(7),
    // The request timeout runs on the fake clock too: far beyond every wait the tests advance through.
    requestTimeoutMs: 1e9,
    onAttempt: (a) => attempts.push(a),
    ...overrides,
  };
}

/**
 * Settles `promise`, moving the fake clock to each wait `register()` schedules (timers due within
 * `withinMs`; the request timeouts and the platform's 180 s TTL lie beyond) while real loopback requests complete.
 */
async function drive<T>(clock: FakeClock, promise: Promise<T>, withinMs = 100_000): Promise<T> {
  let done = false;
  const settled = promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 2_000 && !done; i += 1) {
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 5))]);
    if (done) break;
    const due = clock.nextDueAt();
    if (due !== undefined && due - clock.now() <= withinMs) await clock.advance(Math.max(0, due - clock.now()));
  }
  return promise;
}

async function rejection(promise: Promise<unknown>): Promise<HeartbeatError> {
  const error = await drive(rig.clock, promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!HeartbeatError.isInstance(error)) throw new Error(`expected a HeartbeatError, got ${String(error)}`);
  return error;
}

const tokenFile = () => join(rig.configsDir, ".auth_token");
const tempFiles = async () => (await readdir(rig.configsDir)).filter((name) => name.endsWith(".tmp"));

describe("register()", () => {
  it("persists the issued token before it resolves, and resolves { tokenIssued, attempts }", async () => {
    const result = await register(options());
    expect(result).toEqual<RegisterResult>({ tokenIssued: true, attempts: 1 });
    const issued = rig.platform.control.registrations(rig.workspaceId)[0]?.issuedToken;
    expect(issued).toBeTruthy();
    expect((await readFile(tokenFile(), "utf8")).trim()).toBe(issued);
    expect(await register(options())).toEqual({ tokenIssued: false, attempts: 1 });
    expect(rig.platform.control.registrations(rig.workspaceId).at(-1)).toMatchObject({ auth: "ok", status: 200 });
    expect(log.lines.filter((l) => l.obj.event === "register.ok")).toHaveLength(2);
  });

  it("retries 408, 425, 429, 5xx and transport errors with capped, jittered backoff until it succeeds", async () => {
    const { control } = rig.platform;
    for (const status of [408, 425, 500, 503]) control.failNext("register", { status });
    control.failNext("register", { status: 429, retryAfterSeconds: 30 });
    control.failNext("register", { reset: true, times: 2 }); // a reset is retried once on a fresh connection
    const t0 = rig.clock.now();
    const result = await drive(rig.clock, register(options({ maxDelayMs: 20_000 })));
    expect(result).toEqual({ tokenIssued: true, attempts: 7 });
    expect(attempts.map((a) => a.status)).toEqual([408, 425, 500, 503, 429, undefined, 200]);
    const waits = log.lines.filter((l) => l.obj.event === "register.failed").map((l) => Number(l.obj.retryInMs));
    expect(waits).toHaveLength(6);
    // 1 s, 2 s, 4 s, 8 s (± 20 %), then Retry-After 30 s capped at maxDelayMs, then the cap (± 20 %).
    for (const [i, base] of [1_000, 2_000, 4_000, 8_000].entries()) {
      expect(waits[i]).toBeGreaterThanOrEqual(base * 0.8);
      expect(waits[i]).toBeLessThanOrEqual(base * 1.2);
    }
    expect(waits[4]).toBe(20_000);
    expect(waits[5]).toBeLessThanOrEqual(20_000 * 1.2);
    expect(rig.clock.now() - t0).toBe(waits.reduce((a, b) => a + b, 0));
  });

  it("a permanent 4xx rejects at once with E_REGISTER_REJECTED and the fix", async () => {
    rig.platform.control.failNext("register", { status: 413, body: { error: "request body too large" } });
    const error = await rejection(register(options()));
    expect(error).toMatchObject({ code: "E_REGISTER_REJECTED", status: 413, attempts: 1 });
    expect(error.message).toContain("HTTP 413: request body too large");
    expect(error.message).toContain("shorten description");
    rig.platform.control.failNext("register", { status: 400 });
    expect(await rejection(register(options()))).toMatchObject({ code: "E_REGISTER_REJECTED", status: 400 });
    expect(rig.platform.control.registrations(rig.workspaceId).map((r) => r.injected)).toEqual(["status", "status"]);
  });

  it("a 200 that is not the platform's answer is not a registration: E_REGISTER_REJECTED, nothing saved", async () => {
    rig.platform.control.failNext("register", { garbage: true });
    const error = await rejection(register(options()));
    expect(error).toMatchObject({ code: "E_REGISTER_REJECTED", status: 200 });
    expect(error.message).toContain("PLATFORM_URL");
    await expect(readFile(tokenFile(), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    expect(rig.platform.control.status(rig.workspaceId)).toBeUndefined();
  });

  it("the platform's error text never carries a token into the error", async () => {
    await register(options());
    const token = rig.platform.control.token(rig.workspaceId) ?? "";
    rig.platform.control.failNext("register", {
      status: 422,
      body: { error: `bad header Bearer ${token} (${token})` },
    });
    const error = await rejection(register(options()));
    expect(error.message).not.toContain(token);
    expect(error.message).toContain("[redacted]");
  });

  it("an agent key in the platform's error text is masked in the error too", async () => {
    await register(options());
    rig.platform.control.failNext("register", {
      status: 422,
      body: { error: "echo ANTHROPIC_API_KEY sk-ant-api03-abcdefghijklmnop" },
    });
    const error = await rejection(register(options()));
    expect(error.message).toContain("HTTP 422");
    expect(error.message).not.toContain("abcdefghijklmnop");
    expect(error.message).toContain("sk-ant-api03-…[redacted]");
  });

  it("aborting the signal ends the retries with E_REGISTER_ABORTED", async () => {
    await rig.platform.control.down();
    const controller = new AbortController();
    const pending = register(options({ signal: controller.signal }));
    await rig.platform.control.waitFor(() => attempts.length === 1);
    controller.abort();
    expect(await rejection(pending)).toMatchObject({ code: "E_REGISTER_ABORTED", attempts: 1 });
    await rig.platform.control.up();
  });

  it("refuses bad options with E_REGISTER_BAD_OPTION", async () => {
    await expect(register(options({ url: "localhost:8000" }))).rejects.toMatchObject({ code: "E_REGISTER_BAD_OPTION" });
    await expect(register(options({ platformUrl: "platform" }))).rejects.toMatchObject({
      code: "E_REGISTER_BAD_OPTION",
    });
    expect(attempts).toHaveLength(0);
  });
});

describe("register() after a 401", () => {
  /** The platform issued a token, and the process was killed between writing its temp file and the rename. */
  async function strandIssuedToken(): Promise<{ token: string; stranded: string }> {
    await register(options());
    const token = (await readFile(tokenFile(), "utf8")).trim();
    const stranded = join(rig.configsDir, ".auth_token.4242.0123456789ab.tmp");
    await rename(tokenFile(), stranded);
    await rig.tokens.refreshFromDisk();
    return { token, stranded };
  }

  it("tries a complete stranded temp token, saves the one that works and removes every temp file", async () => {
    const { token } = await strandIssuedToken();
    // A torn one (no newline: the write did not finish) and a dead one from an older issue.
    await writeFile(join(rig.configsDir, ".auth_token.77.aaaaaaaaaaaa.tmp"), token.slice(0, 20));
    await writeFile(join(rig.configsDir, ".auth_token.78.bbbbbbbbbbbb.tmp"), "dead-token-from-long-ago\n");
    attempts = [];
    const result = await drive(rig.clock, register(options()));
    expect(result.tokenIssued).toBe(false);
    expect((await readFile(tokenFile(), "utf8")).trim()).toBe(token);
    expect(await tempFiles()).toEqual([]);
    expect(attempts.at(0)?.status).toBe(401);
    expect(attempts.at(-1)).toMatchObject({ ok: true, status: 200 });
    const tried = rig.platform.control.registrations(rig.workspaceId).slice(1);
    expect(tried.map((r) => r.auth)).not.toContain("bootstrap");
    expect(tried.filter((r) => r.token === token.slice(0, 20))).toHaveLength(0); // the torn one is never sent
    expect(log.text()).not.toContain(token);
    expect(log.lines.find((l) => l.obj.event === "register.stranded_recovered")?.obj).toMatchObject({ files: 3 });
  });

  it("a 401 nothing recovers rejects with E_REGISTER_UNAUTHORIZED after the grace; dead temp files are removed", async () => {
    await strandIssuedToken();
    rig.platform.control.rotateToken(rig.workspaceId); // the stranded token is dead too
    const t0 = rig.clock.now();
    const error = await rejection(register(options({ unauthorizedGraceMs: 10_000 })));
    expect(error).toMatchObject({ code: "E_REGISTER_UNAUTHORIZED", status: 401 });
    expect(error.message).toContain(".auth_token");
    expect(rig.clock.now() - t0).toBeGreaterThanOrEqual(10_000);
    expect(await tempFiles()).toEqual([]);
  });

  it("a token file written during the grace is used at the next attempt", async () => {
    await register(options());
    const live = rig.platform.control.rotateToken(rig.workspaceId); // re-provisioned while we were down
    const pending = register(options({ unauthorizedGraceMs: 60_000 }));
    await rig.platform.control.waitFor(() => log.lines.some((l) => l.obj.event === "register.failed"));
    const failed = log.lines.find((l) => l.obj.event === "register.failed");
    expect(failed?.obj).toMatchObject({ status: 401 });
    expect(String(failed?.obj.hint)).toContain(".auth_token");
    await writeFile(tokenFile(), `${live}\n`, { mode: 0o600 });
    expect(await drive(rig.clock, pending)).toMatchObject({ tokenIssued: false });
    expect(rig.platform.control.registrations(rig.workspaceId).at(-1)).toMatchObject({ status: 200, token: live });
  });

  it("without a token file path (a custom token store) a 401 just waits for the grace", async () => {
    await register(options());
    await rm(tokenFile());
    await rig.tokens.refreshFromDisk();
    const tokens = {
      headers: () => rig.tokens.headers(),
      refreshFromDisk: (used?: string) => rig.tokens.refreshFromDisk(used),
      save: (t: string) => rig.tokens.save(t),
    };
    const error = await rejection(register(options({ tokens, unauthorizedGraceMs: 3_000 })));
    expect(error.code).toBe("E_REGISTER_UNAUTHORIZED");
  });
});
