import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFakeClock, type FakeClock, startTestPlatform, TestkitError, type TestPlatform } from "./index.js";
import { isRegistrableUrl } from "./platform-registry.js";

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

const card = (name = "worker") => ({
  name,
  description: "test",
  version: "1.0.0",
  url: "http://localhost:9000",
  skills: [],
  capabilities: { streaming: true, pushNotifications: true },
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let platform: TestPlatform;
let clock: FakeClock;
let id: string;

async function register(headers: Record<string, string> = {}, url = "http://localhost:9000"): Promise<Answer> {
  return call(platform.url, "POST", "/registry/register", { id, url, agent_card: card() }, headers);
}

async function beat(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Answer> {
  return call(platform.url, "POST", "/registry/heartbeat", { workspace_id: id, ...body }, headers);
}

async function registered(): Promise<string> {
  const answer = await register();
  expect(answer.status).toBe(200);
  const token = (answer.body as { auth_token: string }).auth_token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return token;
}

beforeEach(async () => {
  clock = createFakeClock(1_700_000_000_000);
  platform = await startTestPlatform({ clock });
  id = randomUUID();
});

afterEach(async () => {
  await platform.close();
});

describe("POST /registry/register", () => {
  it("issues a 43-char base64url token on the first register, and never again while it is live", async () => {
    const first = await register();
    expect(first.status).toBe(200);
    const token = (first.body as { auth_token: string }).auth_token;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(platform.control.token(id)).toBe(token);
    expect(platform.control.registrations(id)[0]?.issuedToken).toBe(token);

    const again = await register(bearer(token));
    expect(again).toMatchObject({ status: 200, body: { status: "registered" } });
    expect(again.body).not.toHaveProperty("auth_token");
  });

  it("answers 401 when a live token exists and the caller's is missing or wrong", async () => {
    await registered();
    expect(await register()).toMatchObject({ status: 401, body: { error: "missing workspace auth token" } });
    expect(await register(bearer("nope"))).toMatchObject({
      status: 401,
      body: { error: "invalid workspace auth token" },
    });
    // the prefix is case-sensitive
    const token = platform.control.token(id) ?? "";
    expect((await register({ authorization: `bearer ${token}` })).status).toBe(401);
  });

  it("refuses bad bodies and URLs with 400, allows the name localhost", async () => {
    const bad = { status: 400, body: { error: "invalid request body" } };
    expect(await register({}, "ftp://localhost:9000")).toMatchObject(bad);
    expect(await register({}, "http://127.0.0.1:9000")).toMatchObject(bad);
    expect(await register({}, "http://[::1]:9000")).toMatchObject(bad);
    expect(await register({}, "http://169.254.169.254/")).toMatchObject(bad);
    expect(await register({}, "not a url")).toMatchObject(bad);
    expect(await call(platform.url, "POST", "/registry/register", { id, url: "http://localhost:1" })).toMatchObject(
      bad,
    );
    expect(await call(platform.url, "POST", "/registry/register", "{nope")).toMatchObject(bad);
    expect(
      await call(platform.url, "POST", "/registry/register", {
        id: "not-a-uuid",
        url: "http://localhost:1",
        agent_card: card(),
      }),
    ).toMatchObject(bad);
    expect(platform.workspaces.size).toBe(0);
    expect((await register({}, "http://localhost:9000")).status).toBe(200);
    expect(platform.workspaces.get(id)?.url).toBe("http://localhost:9000");
  });

  it("judges URLs by the contract's rules", () => {
    expect(isRegistrableUrl("http://localhost:1")).toBe(true);
    expect(isRegistrableUrl("https://worker.internal:8443/a2a")).toBe(true);
    expect(isRegistrableUrl("http://10.0.0.5:9000")).toBe(true);
    expect(isRegistrableUrl("http://127.1.2.3")).toBe(false);
    expect(isRegistrableUrl("http://0.0.0.0:80")).toBe(false);
    expect(isRegistrableUrl("http://[fe80::1]/")).toBe(false);
    expect(isRegistrableUrl("http://[::ffff:127.0.0.1]/")).toBe(false);
    expect(isRegistrableUrl("file:///etc/passwd")).toBe(false);
  });

  it("creates the liveness record and brings the workspace online with an event", async () => {
    await registered();
    const ws = platform.workspaces.get(id);
    expect(ws?.status).toBe("online");
    expect(ws?.liveUntil).toBe(clock.now() + 180_000);
    expect(platform.events.map((e) => e.type)).toEqual(["WORKSPACE_ONLINE"]);
    expect(platform.events[0]).toMatchObject({
      workspaceId: id,
      at: clock.now(),
      timestamp: new Date(clock.now()).toISOString(),
      data: { from: "provisioning", to: "online" },
    });
  });
});

describe("POST /registry/heartbeat", () => {
  it("400 without workspace_id, 200 for an unknown id (nothing updated)", async () => {
    expect(await call(platform.url, "POST", "/registry/heartbeat", { error_rate: 0 })).toMatchObject({ status: 400 });
    expect(await beat({ error_rate: 0 })).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(platform.workspaces.has(id)).toBe(false);
    expect(platform.control.beats(id)).toHaveLength(1);
    expect(platform.events).toHaveLength(0);
  });

  it("needs no token before one exists, then requires the live one", async () => {
    platform.control.seed(id);
    expect((await beat({})).status).toBe(200);
    expect(platform.control.beats(id)[0]?.auth).toBe("bootstrap");
    const token = await registered();
    expect(await beat({})).toMatchObject({ status: 401, body: { error: "missing workspace auth token" } });
    expect(await beat({}, bearer("x"))).toMatchObject({ status: 401, body: { error: "invalid workspace auth token" } });
    expect(await beat({}, bearer(token))).toMatchObject({ status: 200 });
    expect(platform.control.beats(id).map((b) => [b.status, b.auth])).toEqual([
      [200, "bootstrap"],
      [401, "missing"],
      [401, "invalid"],
      [200, "ok"],
    ]);
  });

  it("records every beat with arrival time, headers and body", async () => {
    const token = await registered();
    await clock.advance(5_000);
    await beat({ active_tasks: 1, current_task: "review" }, { ...bearer(token), "x-extra": "1" });
    const [recorded] = platform.control.beats(id);
    expect(recorded?.at).toBe(1_700_000_005_000);
    expect(recorded?.headers["x-extra"]).toBe("1");
    expect(recorded?.token).toBe(token);
    expect(recorded?.body).toEqual({ workspace_id: id, active_tasks: 1, current_task: "review" });
    expect(platform.workspaces.get(id)).toMatchObject({ activeTasks: 1, currentTask: "review" });
  });

  it("runs the status machine: wedged and high error rate degrade, recovery needs < 0.1 and no runtime_state", async () => {
    const token = await registered();
    const auth = bearer(token);
    const statusAfter = async (body: Record<string, unknown>) => {
      expect((await beat(body, auth)).status).toBe(200);
      return platform.control.status(id);
    };
    expect(await statusAfter({ error_rate: 0 })).toBe("online");
    expect(await statusAfter({ error_rate: 0, runtime_state: "wedged", sample_error: "init timeout" })).toBe(
      "degraded",
    );
    // still wedged: stays degraded even with no errors
    expect(await statusAfter({ error_rate: 0, runtime_state: "wedged" })).toBe("degraded");
    // a partial body (runtime_state missing) flips it back — the contract's warning
    expect(await statusAfter({ error_rate: 0 })).toBe("online");
    expect(await statusAfter({ error_rate: 0.5 })).toBe("degraded");
    expect(await statusAfter({ error_rate: 0.2 })).toBe("degraded");
    expect(await statusAfter({ error_rate: 0.09 })).toBe("online");
    expect(await statusAfter({ error_rate: 0.49 })).toBe("online");
    const transitions = platform.events
      .filter((e) => e.type !== "WORKSPACE_HEARTBEAT")
      .map((e) => [e.type, e.data.reason]);
    expect(transitions).toEqual([
      ["WORKSPACE_ONLINE", "register"],
      ["WORKSPACE_DEGRADED", "runtime wedged"],
      ["WORKSPACE_ONLINE", "recovered"],
      ["WORKSPACE_DEGRADED", "error rate"],
      ["WORKSPACE_ONLINE", "recovered"],
    ]);
    expect(platform.events.filter((e) => e.type === "WORKSPACE_HEARTBEAT")).toHaveLength(8);
  });

  it("provisioning or offline + any beat → online (then the beat's own state applies)", async () => {
    platform.control.seed(id, { status: "provisioning" });
    await beat({ error_rate: 0 });
    expect(platform.control.status(id)).toBe("online");
    platform.control.seed(id, { status: "offline" });
    await beat({ runtime_state: "wedged" });
    expect(platform.control.status(id)).toBe("degraded");
    expect(
      platform.events
        .filter((e) => e.type.startsWith("WORKSPACE_") && e.type !== "WORKSPACE_HEARTBEAT")
        .map((e) => e.type),
    ).toEqual(["WORKSPACE_ONLINE", "WORKSPACE_OFFLINE", "WORKSPACE_ONLINE", "WORKSPACE_DEGRADED"]);
  });

  it("emits TASK_UPDATED only when active_tasks or current_task change", async () => {
    const auth = bearer(await registered());
    await beat({ active_tasks: 0, current_task: "" }, auth);
    await beat({ active_tasks: 1, current_task: "fix bug" }, auth);
    await beat({ active_tasks: 1, current_task: "fix bug" }, auth);
    await beat({ active_tasks: 0, current_task: "" }, auth);
    const tasks = platform.events.filter((e) => e.type === "TASK_UPDATED").map((e) => e.data);
    expect(tasks).toEqual([
      { active_tasks: 1, current_task: "fix bug" },
      { active_tasks: 0, current_task: "" },
    ]);
  });

  it("keeps runtime_metadata from the last beat; absent clears it", async () => {
    const auth = bearer(await registered());
    await beat({ runtime_metadata: { capabilities: { heartbeat: true } } }, auth);
    expect(platform.workspaces.get(id)?.runtimeMetadata).toEqual({ capabilities: { heartbeat: true } });
    await beat({}, auth);
    expect(platform.workspaces.get(id)?.runtimeMetadata).toBeNull();
  });

  // The exact record of every heartbeat body field (platform-registry.ts's BEAT_FIELDS): a new field
  // belongs in both objects below.
  it("records every heartbeat body field, and an absent field resets to its default", async () => {
    const auth = bearer(await registered());
    const full = {
      error_rate: 0.25,
      sample_error: "boom",
      active_tasks: 2,
      current_task: "fix bug",
      uptime_seconds: 42,
      runtime_state: "wedged",
      runtime_metadata: { model: "m" },
    };
    const beatFields = () => {
      const ws = platform.workspaces.get(id);
      if (!ws) throw new Error("no workspace");
      const { errorRate, sampleError, activeTasks, currentTask, uptimeSeconds, runtimeState, runtimeMetadata } = ws;
      const { lastHeartbeatAt } = ws;
      return {
        lastHeartbeatAt,
        errorRate,
        sampleError,
        activeTasks,
        currentTask,
        uptimeSeconds,
        runtimeState,
        runtimeMetadata,
      };
    };
    expect((await beat(full, auth)).status).toBe(200);
    expect(beatFields()).toEqual({
      lastHeartbeatAt: clock.now(),
      errorRate: 0.25,
      sampleError: "boom",
      activeTasks: 2,
      currentTask: "fix bug",
      uptimeSeconds: 42,
      runtimeState: "wedged",
      runtimeMetadata: { model: "m" },
    });
    const beats = () => platform.events.filter((e) => e.type === "WORKSPACE_HEARTBEAT").map((e) => e.data);
    const { runtime_metadata: _metadata, ...scalars } = full;
    expect(beats()).toEqual([scalars]);
    await clock.advance(1_000);
    await beat({}, auth);
    expect(beatFields()).toEqual({
      lastHeartbeatAt: clock.now(),
      errorRate: 0,
      sampleError: "",
      activeTasks: 0,
      currentTask: "",
      uptimeSeconds: 0,
      runtimeState: "",
      runtimeMetadata: null,
    });
    expect(beats()[1]).toEqual({
      error_rate: 0,
      sample_error: "",
      active_tasks: 0,
      current_task: "",
      uptime_seconds: 0,
      runtime_state: "",
    });
  });
});

describe("liveness TTL (fake clock)", () => {
  it("beats extend the record; without them it expires → offline", async () => {
    const auth = bearer(await registered());
    await clock.advance(170_000);
    await beat({}, auth);
    await clock.advance(170_000);
    expect(platform.control.status(id)).toBe("online");
    await clock.advance(10_000);
    expect(platform.control.status(id)).toBe("offline");
    expect(platform.workspaces.get(id)?.liveUntil).toBeNull();
    const offline = platform.events.find((e) => e.type === "WORKSPACE_OFFLINE");
    expect(offline?.at).toBe(1_700_000_000_000 + 170_000 + 180_000);
  });

  it("a beat after expiry does not bring the record back; register does", async () => {
    const auth = bearer(await registered());
    await clock.advance(180_000);
    expect(platform.control.status(id)).toBe("offline");
    await beat({}, auth);
    expect(platform.workspaces.get(id)?.liveUntil).toBeNull();
    expect((await register(auth)).status).toBe(200);
    expect(platform.workspaces.get(id)?.liveUntil).toBe(clock.now() + 180_000);
    await clock.advance(179_999);
    expect(platform.control.status(id)).toBe("online");
  });

  it("honours ttlMs", async () => {
    await platform.close();
    platform = await startTestPlatform({ clock, ttlMs: 1_000 });
    await registered();
    await clock.advance(1_000);
    expect(platform.control.status(id)).toBe("offline");
  });

  it("expire(id) and forget(id)", async () => {
    const auth = bearer(await registered());
    platform.control.expire(id);
    expect(platform.control.status(id)).toBe("offline");
    platform.control.forget(id);
    expect(platform.control.status(id)).toBeUndefined();
    expect((await beat({}, auth)).status).toBe(200);
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(404);
    // re-register after being forgotten: the old token is not live any more, a new one is issued
    const again = await register(auth);
    expect(again.status).toBe(200);
    expect(again.body).toHaveProperty("auth_token");
    expect(() => platform.control.expire(randomUUID())).toThrow(TestkitError);
  });

  it("unknownHeartbeat: not-found answers a forgotten workspace's beat 404 until it registers again", async () => {
    await platform.close();
    platform = await startTestPlatform({ clock, unknownHeartbeat: "not-found" });
    const auth = bearer(await registered());
    expect((await beat({}, auth)).status).toBe(200);
    platform.control.forget(id);
    expect(await beat({}, auth)).toMatchObject({ status: 404, body: { error: "workspace not found" } });
    expect(platform.control.beats(id).at(-1)?.status).toBe(404);
    const again = await register(auth);
    expect(again.status).toBe(200);
    expect((await beat({}, bearer(String((again.body as { auth_token: string }).auth_token)))).status).toBe(200);
    await expect(startTestPlatform({ unknownHeartbeat: "gone" as "ok" })).rejects.toThrow(/unknownHeartbeat/);
  });
});

describe("GET /workspaces/:id", () => {
  it("400 non-UUID, 404 unknown, 200 with id/name/status/parent_id, no auth", async () => {
    expect(await call(platform.url, "GET", "/workspaces/abc")).toMatchObject({ status: 400 });
    expect(await call(platform.url, "GET", `/workspaces/${id}`)).toMatchObject({
      status: 404,
      body: { error: "workspace not found" },
    });
    const parent = randomUUID();
    platform.control.seed(parent, { name: "lead", status: "online" });
    platform.control.seed(id, { name: "worker", parentId: parent });
    expect(await call(platform.url, "GET", `/workspaces/${id}`)).toMatchObject({
      status: 200,
      body: { id, name: "worker", status: "provisioning", parent_id: parent },
    });
    expect(await call(platform.url, "GET", `/workspaces/${parent}`)).toMatchObject({
      body: { name: "lead", parent_id: null, status: "online" },
    });
  });
});

describe("GET /workspaces/:id/delegations", () => {
  const row = (n: number, at: string) => ({
    id: `row-${n}`,
    source_id: "s",
    target_id: "t",
    summary: `s${n}`,
    status: "completed" as const,
    created_at: at,
    delegation_id: `d${n}`,
  });

  it("needs the live token; returns the newest 50 rows, newest first", async () => {
    const token = await registered();
    const rows = Array.from({ length: 60 }, (_, n) => row(n, new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString()));
    platform.control.setDelegations(id, rows);
    expect((await call(platform.url, "GET", `/workspaces/${id}/delegations`)).status).toBe(401);
    const answer = await call(platform.url, "GET", `/workspaces/${id}/delegations`, undefined, bearer(token));
    expect(answer.status).toBe(200);
    const got = answer.body as Array<{ id: string; type: string }>;
    expect(got).toHaveLength(50);
    expect(got[0]).toMatchObject({ id: "row-59", type: "delegation" });
    expect(got[49]?.id).toBe("row-10");
  });

  it("404 for an unknown workspace; 401 for a known one with no token at all", async () => {
    expect((await call(platform.url, "GET", `/workspaces/${id}/delegations`)).status).toBe(404);
    platform.control.seed(id);
    expect(await call(platform.url, "GET", `/workspaces/${id}/delegations`)).toMatchObject({
      status: 401,
      body: { error: "missing workspace auth token" },
    });
  });
});

describe("POST /workspaces/:id/notify and /a2a", () => {
  it("notify: 200 sent, 400 without message, 404 unknown, 401 without token; recorded", async () => {
    const token = await registered();
    const path = `/workspaces/${id}/notify`;
    expect(await call(platform.url, "POST", path, { message: "done" }, bearer(token))).toMatchObject({
      status: 200,
      body: { status: "sent" },
    });
    expect(await call(platform.url, "POST", path, { message: "" }, bearer(token))).toMatchObject({
      status: 400,
      body: { error: "message is required" },
    });
    expect((await call(platform.url, "POST", path, { message: "x" })).status).toBe(401);
    expect(
      await call(platform.url, "POST", `/workspaces/${randomUUID()}/notify`, { message: "x" }, bearer(token)),
    ).toMatchObject({ status: 404, body: { error: "workspace not found" } });
    expect(platform.control.notifications(id).map((n) => [n.status, (n.body as { message: string }).message])).toEqual([
      [200, "done"],
      [400, ""],
      [401, "x"],
    ]);
  });

  it("a2a canned modes: answers a JSON-RPC message, or queued / busy; records X-Workspace-ID", async () => {
    const token = await registered();
    platform.control.setA2aMode(id, "reply"); // the default forwards (platform-a2a.test.ts)
    const path = `/workspaces/${id}/a2a`;
    const rpc = {
      jsonrpc: "2.0",
      id: "r1",
      method: "message/send",
      params: { message: { role: "user", messageId: "m1", parts: [{ kind: "text", text: "wake up" }] } },
    };
    const headers = { ...bearer(token), "x-workspace-id": id };
    expect(await call(platform.url, "POST", path, rpc, headers)).toMatchObject({
      status: 200,
      body: { jsonrpc: "2.0", id: "r1", result: { parts: [{ kind: "text", text: "ok" }] } },
    });
    platform.control.setA2aMode(id, "queued");
    expect(await call(platform.url, "POST", path, rpc, headers)).toMatchObject({ status: 202, body: { queued: true } });
    platform.control.setA2aMode(id, "busy");
    expect(await call(platform.url, "POST", path, rpc, headers)).toMatchObject({
      status: 503,
      body: { busy: true, retry_after: 30 },
    });
    expect((await call(platform.url, "POST", path, rpc)).status).toBe(401);
    const calls = platform.control.a2aCalls(id);
    expect(calls).toHaveLength(4);
    expect(calls[0]?.headers["x-workspace-id"]).toBe(id);
    expect(calls[0]?.body).toEqual(rpc);
  });
});

describe("org header", () => {
  it("404 on everything but register/heartbeat without the right X-Molecule-Org-Id", async () => {
    await platform.close();
    platform = await startTestPlatform({ clock, orgId: "org-1" });
    const token = await registered();
    expect((await beat({}, bearer(token))).status).toBe(200);
    const path = `/workspaces/${id}/delegations`;
    expect((await call(platform.url, "GET", path, undefined, bearer(token))).status).toBe(404);
    expect(
      (await call(platform.url, "GET", path, undefined, { ...bearer(token), "x-molecule-org-id": "org-2" })).status,
    ).toBe(404);
    expect(
      (await call(platform.url, "GET", path, undefined, { ...bearer(token), "x-molecule-org-id": "org-1" })).status,
    ).toBe(200);
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(404);
  });
});

describe("rate limiting", () => {
  it("only with rateLimitPerMinute: 429 with Retry-After, per clock minute", async () => {
    await platform.close();
    platform = await startTestPlatform({ clock, rateLimitPerMinute: 3 });
    await registered();
    await clock.advance(10_000);
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(200);
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(200);
    const limited = await call(platform.url, "GET", `/workspaces/${id}`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("50");
    await clock.advance(50_000);
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(200);
  });

  it("no limit by default", async () => {
    for (let i = 0; i < 610; i += 1) expect((await beat({})).status).toBe(200);
  });
});

describe("control: failures, latency, down/up", () => {
  it("failNext status with body and Retry-After, `times`, route-specific", async () => {
    platform.control.failNext("heartbeat", { status: 500, times: 2 });
    platform.control.failNext("heartbeat", { status: 429, retryAfterSeconds: 7 });
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(404);
    expect((await beat({})).status).toBe(500);
    expect((await beat({})).status).toBe(500);
    const limited = await beat({});
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect((await beat({})).status).toBe(200);
    expect(platform.control.beats(id).map((b) => b.injected)).toEqual(["status", "status", "status", null]);
  });

  it("failNext reset, garbage and hang", async () => {
    platform.control.failNext("*", { reset: true });
    await expect(beat({})).rejects.toThrow();
    platform.control.failNext("heartbeat", { garbage: true });
    const garbage = await beat({});
    expect(garbage.status).toBe(200);
    expect(typeof garbage.body).toBe("string");
    platform.control.failNext("heartbeat", { hang: true });
    await expect(
      fetch(`${platform.url}/registry/heartbeat`, {
        method: "POST",
        body: JSON.stringify({ workspace_id: id }),
        signal: AbortSignal.timeout(200),
      }),
    ).rejects.toThrow();
    expect(platform.control.beats(id).map((b) => b.injected)).toEqual(["reset", "garbage", "hang"]);
  });

  it("latency delays answers (real ms), 0 removes it", async () => {
    platform.control.latency("heartbeat", 400);
    const post = (signal?: AbortSignal) =>
      fetch(`${platform.url}/registry/heartbeat`, {
        method: "POST",
        body: JSON.stringify({ workspace_id: id }),
        ...(signal ? { signal } : {}),
      });
    await expect(post(AbortSignal.timeout(50))).rejects.toThrow();
    expect((await call(platform.url, "GET", `/workspaces/${id}`)).status).toBe(404);
    platform.control.latency("heartbeat", 0);
    expect((await post(AbortSignal.timeout(5_000))).status).toBe(200);
  });

  it("down() refuses connections, up() listens again on the same port", async () => {
    expect((await beat({})).status).toBe(200);
    await platform.control.down();
    const refused = await beat({}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error & { cause?: unknown }).cause)).toMatch(/ECONNREFUSED/);
    await platform.control.up();
    expect((await beat({})).status).toBe(200);
    expect(platform.url).toBe(`http://127.0.0.1:${platform.port}`);
  });
});

describe("control: tokens", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "testkit-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("rotateToken revokes the old token and writes the new one atomically, mode 0600", async () => {
    const old = await registered();
    const file = join(dir, ".auth_token");
    await writeFile(file, `${old}\n`, { mode: 0o600 });
    const fresh = platform.control.rotateToken(id, { writeTo: file });
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fresh).not.toBe(old);
    expect(await readFile(file, "utf8")).toBe(`${fresh}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await beat({}, bearer(old))).status).toBe(401);
    expect((await beat({}, bearer(fresh))).status).toBe(200);
  });

  it("rotateToken with delayMs writes the file on the clock, later", async () => {
    const old = await registered();
    const file = join(dir, ".auth_token");
    await writeFile(file, `${old}\n`, { mode: 0o600 });
    const fresh = platform.control.rotateToken(id, { writeTo: file, delayMs: 60_000 });
    await clock.advance(59_999);
    expect(await readFile(file, "utf8")).toBe(`${old}\n`);
    await clock.advance(1);
    expect(await readFile(file, "utf8")).toBe(`${fresh}\n`);
  });

  it("revokeToken returns the workspace to bootstrap mode", async () => {
    const old = await registered();
    platform.control.revokeToken(id);
    expect(platform.control.token(id)).toBeUndefined();
    expect((await beat({})).status).toBe(200);
    const again = await register(bearer(old));
    expect(again.status).toBe(200);
    expect((again.body as { auth_token: string }).auth_token).not.toBe(old);
  });

  it("a workspace seeded by the provisioner can get a token before it first registers", async () => {
    platform.control.seed(id);
    const token = platform.control.rotateToken(id);
    expect((await register()).status).toBe(401);
    expect(await register(bearer(token))).toMatchObject({ status: 200, body: { status: "registered" } });
  });
});

describe("control.waitFor", () => {
  it("resolves with the truthy value, or rejects with E_TESTKIT_WAIT_TIMEOUT", async () => {
    let n = 0;
    await expect(platform.control.waitFor(() => (++n >= 3 ? n : 0), 1_000)).resolves.toBe(3);
    const error = await platform.control.waitFor(() => false, 30).catch((e: unknown) => e);
    expect(TestkitError.isInstance(error)).toBe(true);
    expect((error as TestkitError).code).toBe("E_TESTKIT_WAIT_TIMEOUT");
  });
});

describe("unknown routes", () => {
  it("answers 404 JSON", async () => {
    expect(await call(platform.url, "GET", "/nope")).toMatchObject({ status: 404, body: { error: "not found" } });
    expect(platform.control.requests().at(-1)?.route).toBe("unknown");
  });
});
