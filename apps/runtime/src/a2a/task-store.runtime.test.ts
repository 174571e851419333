// a2a.persist_tasks through startRuntime: the daemon in this process against the test platform,
// stopped and started again on the same state dir.
import { randomUUID } from "node:crypto";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Executor } from "../executor.js";
import { type RuntimeHandle, startRuntime } from "../runtime.js";
import { TASKS_FILE } from "./task-store.js";

let platform: TestPlatform;
let dir: string;
let daemon: RuntimeHandle | undefined;

beforeEach(async () => {
  platform = await startTestPlatform();
  dir = await tempDir("runtime-task-records-");
  await mkdir(join(dir, "config"));
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await platform.close();
  await removeDir(dir);
});

const echo: Executor = {
  name: "echo",
  async runTurn({ text }) {
    return { outcome: "ok", text: `echo: ${text}` };
  },
};

async function boot(id: string, persist: boolean | undefined): Promise<RuntimeHandle> {
  const a2a = ["a2a:", "  port: 0", ...(persist === undefined ? [] : [`  persist_tasks: ${persist}`])];
  await writeFile(join(dir, "config", "config.yaml"), ["name: echo", ...a2a, ""].join("\n"));
  return startRuntime({
    env: {
      WORKSPACE_ID: id,
      PLATFORM_URL: platform.url,
      WORKSPACE_CONFIG_PATH: join(dir, "config"),
      HOSTNAME: "localhost",
      HOME: dir,
      PATH: process.env.PATH ?? "",
    },
    executor: echo,
    logger: sinkLogger().logger,
    workspaceDir: dir,
    host: "127.0.0.1",
  });
}

async function rpc(handle: RuntimeHandle, method: string, params: unknown) {
  const res = await fetch(`http://127.0.0.1:${handle.port}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return (await res.json()) as { result?: Record<string, unknown>; error?: { code: number } };
}

const send = (handle: RuntimeHandle, messageId: string) =>
  rpc(handle, "message/send", { message: { role: "user", messageId, parts: [{ kind: "text", text: "hi" }] } });

describe("a2a.persist_tasks", () => {
  it("true (the default): a restart still answers tasks/get; the stop wrote what was queued", async () => {
    const id = randomUUID();
    daemon = await boot(id, undefined);
    expect((await send(daemon, "m-1")).result).toMatchObject({ parts: [{ text: "echo: hi" }] });
    await daemon.stop(); // right after the reply: the stop awaits the records' flush
    const lines = (await readFile(join(dir, "config", ".molecule", TASKS_FILE), "utf8")).trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).state)).toEqual(["completed"]);
    daemon = await boot(id, undefined);
    expect((await rpc(daemon, "tasks/get", { id: "m-1" })).result).toMatchObject({
      id: "m-1",
      status: { state: "completed" },
    });
  });

  it("false: nothing is written; a restart forgets the tasks, as before", async () => {
    const id = randomUUID();
    daemon = await boot(id, false);
    expect((await send(daemon, "m-1")).result).toBeDefined();
    expect((await rpc(daemon, "tasks/get", { id: "m-1" })).result).toMatchObject({ status: { state: "completed" } });
    await daemon.stop();
    await expect(access(join(dir, "config", ".molecule", TASKS_FILE))).rejects.toMatchObject({ code: "ENOENT" });
    daemon = await boot(id, false);
    expect((await rpc(daemon, "tasks/get", { id: "m-1" })).error?.code).toBe(-32001);
  });
});
