import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTaskTracker } from "@molecule/heartbeat";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import type { RuntimeStatus } from "../status.js";
import {
  type AdminStatus,
  adminBeatResponseSchema,
  adminErrorResponseSchema,
  adminStatusSchema,
  adminTaskResponseSchema,
} from "./protocol.js";
import { listenAdmin } from "./server.js";

const STATUS: RuntimeStatus = {
  workspaceId: "w-1",
  url: "http://localhost:8000",
  registered: true,
  ready: true,
  draining: false,
  platformStatus: "online",
  wedge: { wedged: false, reason: "" },
  currentTask: "",
  activeTasks: 0,
  queuedTasks: 0,
  lastOutcome: "ok",
  beats: { ok: 3, failed: 0 },
  uptimeSeconds: 9,
};

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start() {
  dir = await mkdtemp(join(tmpdir(), "molecule-admin-"));
  const tracker = createTaskTracker();
  const beats: string[] = [];
  // A stale socket file from a crashed daemon is replaced.
  await writeFile(join(dir, "admin.sock"), "stale");
  const admin = await listenAdmin({
    stateDir: dir,
    status: () => ({ ...STATUS, currentTask: tracker.snapshot().currentLabel }),
    tracker,
    heartbeat: () => ({ beatNow: (why: string) => void beats.push(why) }),
  });
  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; json: unknown }>((resolveCall, rejectCall) => {
      const req = request({ socketPath: admin.socket, method, path }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolveCall({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      });
      req.on("error", rejectCall);
      req.end(body);
    });
  return { admin, tracker, beats, call, close: () => new Promise((r) => admin.server.close(r)) };
}

describe("admin socket", () => {
  it("listens on <state dir>/admin.sock with mode 0600 and answers GET /status with a parseable status", async () => {
    const { admin, call, close } = await start();
    expect(admin.socket).toBe(join(dir ?? "", "admin.sock"));
    expect((await stat(admin.socket)).mode & 0o777).toBe(0o600);
    const answer = await call("GET", "/status");
    expect(answer.status).toBe(200);
    expect(adminStatusSchema.parse(answer.json)).toEqual(STATUS);
    await close();
  });

  it("POST /task sets the label (cut to 200 characters) and null clears it", async () => {
    const { call, close } = await start();
    const set = await call("POST", "/task", JSON.stringify({ label: "x".repeat(300) }));
    expect(set.status).toBe(200);
    expect(adminTaskResponseSchema.parse(set.json).currentTask).toBe("x".repeat(200));
    expect(adminStatusSchema.parse((await call("GET", "/status")).json).currentTask).toBe("x".repeat(200));
    const cleared = await call("POST", "/task", JSON.stringify({ label: null }));
    expect(adminTaskResponseSchema.parse(cleared.json)).toEqual({ ok: true, currentTask: "" });
    await close();
  });

  it("POST /task refuses a body that is not JSON, or a label that is not a string or null", async () => {
    const { tracker, call, close } = await start();
    tracker.setLabel("kept");
    const notJson = await call("POST", "/task", "{label");
    expect(notJson.status).toBe(400);
    expect(adminErrorResponseSchema.parse(notJson.json).error).toContain("body must be JSON");
    const notString = await call("POST", "/task", JSON.stringify({ label: 5 }));
    expect(notString.status).toBe(400);
    expect(adminErrorResponseSchema.parse(notString.json).error).toBe("label must be a string or null");
    expect(tracker.snapshot().currentLabel).toBe("kept");
    await close();
  });

  it("POST /beat asks the heartbeat for an operator beat; unknown routes are 404", async () => {
    const { beats, call, close } = await start();
    expect(adminBeatResponseSchema.parse((await call("POST", "/beat")).json)).toEqual({ ok: true });
    expect(beats).toEqual(["operator"]);
    const missing = await call("GET", "/nope");
    expect(missing.status).toBe(404);
    expect(adminErrorResponseSchema.parse(missing.json)).toEqual({ error: "not found" });
    await close();
  });
});

describe("admin protocol", () => {
  it("a status from a newer daemon with an outcome this version does not know still parses", () => {
    const newer = { ...STATUS, lastOutcome: "quota-exhausted", extra: { added: "later" } };
    expect(adminStatusSchema.parse(newer)).toEqual({ ...STATUS, lastOutcome: "quota-exhausted" });
  });

  it("refuses what is not a status", () => {
    expect(adminStatusSchema.safeParse({ error: "not found" }).success).toBe(false);
    expect(adminStatusSchema.safeParse({ ...STATUS, beats: 3 }).success).toBe(false);
  });

  it("the daemon's typed status is a wire status", () => {
    expectTypeOf<RuntimeStatus>().toExtend<AdminStatus>();
  });
});
