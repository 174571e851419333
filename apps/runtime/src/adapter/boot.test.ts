// runtime: adapter through startRuntime, in this process, against the test platform: the module is
// loaded once, its executor serves A2A and its checks are preflight's and the readiness gate's; a
// module that cannot serve fails the boot with E_PREFLIGHT and its line. (The built daemon with a
// packed adapter package: apps/e2e/src/adapter.slow.test.ts.)
import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type LogSink, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RuntimeError, type RuntimeHandle, startRuntime } from "../index.js";

let platform: TestPlatform;
let dir: string;
let log: LogSink;
let daemon: RuntimeHandle | undefined;

beforeEach(async () => {
  platform = await startTestPlatform();
  dir = await tempDir("runtime-adapter-boot-");
  log = sinkLogger();
  await mkdir(join(dir, "config"));
  await mkdir(join(dir, "empty-bin"));
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await platform.close();
  await removeDir(dir);
});

function env(id: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    WORKSPACE_ID: id,
    PLATFORM_URL: platform.url,
    WORKSPACE_CONFIG_PATH: join(dir, "config"),
    HOSTNAME: "localhost",
    HOME: dir,
    PATH: join(dir, "empty-bin"), // no agent binary anywhere
    MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1", // startRuntime binds 0.0.0.0 by default, with a2a.auth: none
    ...extra,
  };
}

async function config(module: string): Promise<void> {
  await writeFile(
    join(dir, "config", "config.yaml"),
    `name: adapter-worker\nruntime: adapter\na2a:\n  port: 0\nruntime_config:\n  module: ${module}\n`,
  );
}

// Counts its factory calls in a file, writes into its own state dir, and has one check.
const COUNTING = `import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
export async function createExecutor(ctx) {
  await appendFile(join(ctx.configDir, "calls.txt"), "x");
  await writeFile(join(ctx.stateDir, "mine.txt"), ctx.workspaceDir);
  return {
    name: "counting",
    checks: [{ name: "counting-ready", timeoutMs: 1000, needsConfig: false, async run(c) {
      return c.env.COUNTING_OFF ? { issues: [{ severity: "fail", code: "E_COUNTING_OFF", title: "Off", detail: "COUNTING_OFF is set", fix: "Unset COUNTING_OFF." }] } : { detail: "on" };
    } }],
    async runTurn(turn) { return { outcome: "ok", text: "counted: " + turn.text }; },
    async close() { await writeFile(join(ctx.configDir, "closed.txt"), "closed"); },
  };
}
`;

describe("startRuntime with runtime: adapter", () => {
  it("loads the module once, serves A2A with its executor, gives it a state dir of its own", async () => {
    await writeFile(join(dir, "config", "counting.mjs"), COUNTING);
    await config("./counting.mjs");
    const id = randomUUID();
    daemon = await startRuntime({ env: env(id), logger: log.logger, workspaceDir: dir });
    expect(await platform.sendMessage(id, "one")).toBe("counted: one");
    expect(await platform.sendMessage(id, "two")).toBe("counted: two");
    expect(await readFile(join(dir, "config", "calls.txt"), "utf8")).toBe("x"); // one factory call
    expect(await readFile(join(dir, "config", ".molecule", "adapter", "mine.txt"), "utf8")).toBe(dir);
    expect(log.lines.find((l) => l.obj.event === "adapter.loaded")?.obj).toMatchObject({ executor: "counting" });
    expect(log.text()).not.toMatch(/claude/i);
    // The executor's check is the readiness gate's too.
    const ready = await fetch(`http://127.0.0.1:${daemon.port}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("a failing check of the adapter's executor fails the boot with its fix, and the executor is closed", async () => {
    await writeFile(join(dir, "config", "counting.mjs"), COUNTING);
    await config("./counting.mjs");
    const error = await startRuntime({ env: env(randomUUID(), { COUNTING_OFF: "1" }), logger: log.logger }).catch(
      (e: unknown) => e,
    );
    expect(RuntimeError.isInstance(error) && error.code).toBe("E_PREFLIGHT");
    expect((error as Error).message).toContain("Unset COUNTING_OFF.");
    expect(await readFile(join(dir, "config", "closed.txt"), "utf8")).toBe("closed");
  });

  it("a module that is not there fails the boot with E_ADAPTER_NOT_FOUND in the report", async () => {
    await config("./missing.mjs");
    const error = await startRuntime({ env: env(randomUUID()), logger: log.logger }).catch((e: unknown) => e);
    expect(RuntimeError.isInstance(error) && error.code).toBe("E_PREFLIGHT");
    expect(RuntimeError.isInstance(error) && error.report?.failures.map((f) => f.code)).toEqual([
      "E_ADAPTER_NOT_FOUND",
    ]);
    expect((error as Error).message).toContain(join(dir, "config", "missing.mjs"));
  });
});
