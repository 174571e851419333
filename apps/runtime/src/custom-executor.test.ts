// An executor of your own needs no agent: config.runtime is ignored, preflight and the readiness
// gate run the executor's own checks. The daemon runs in this process against the test platform,
// with no agent binary on PATH and no agent credentials anywhere.
import { randomUUID } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type LogSink, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCommandExecutor, type Executor, RuntimeError, type RuntimeHandle, startRuntime } from "./index.js";

let platform: TestPlatform;
let dir: string;
let log: LogSink;
let daemon: RuntimeHandle | undefined;

beforeEach(async () => {
  platform = await startTestPlatform();
  dir = await tempDir("runtime-custom-");
  log = sinkLogger();
  await mkdir(join(dir, "config"));
  await mkdir(join(dir, "home"));
  await mkdir(join(dir, "empty-bin"));
  // The README's minimal config for this path: no `runtime` field.
  await writeFile(join(dir, "config", "config.yaml"), "name: echo-agent\na2a:\n  port: 0\n");
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await platform.close();
  await removeDir(dir);
});

function env(id: string): NodeJS.ProcessEnv {
  return {
    WORKSPACE_ID: id,
    PLATFORM_URL: platform.url,
    WORKSPACE_CONFIG_PATH: join(dir, "config"),
    HOSTNAME: "localhost",
    HOME: join(dir, "home"), // no ~/.claude, no credentials
    PATH: join(dir, "empty-bin"), // no claude (nor anything else)
    MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1", // startRuntime binds 0.0.0.0 by default, with a2a.auth: none
  };
}

const echo: Executor = {
  name: "echo",
  async runTurn({ text }) {
    return { outcome: "ok", text: `echo: ${text}` };
  },
};

async function readyz(handle: RuntimeHandle): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${handle.port}/readyz`);
  return { status: res.status, body: await res.json() };
}

describe("startRuntime({ executor })", () => {
  it("boots, is ready and answers A2A with no agent binary and no agent credentials", async () => {
    const id = randomUUID();
    daemon = await startRuntime({ env: env(id), executor: echo, logger: log.logger, workspaceDir: dir });
    expect(await readyz(daemon)).toEqual({ status: 200, body: { ready: true } });
    expect(daemon.status()).toMatchObject({ registered: true, ready: true });
    // Through the platform, as a caller reaches it: forwarded to the daemon, held until the turn ends.
    expect(await platform.sendMessage(id, "hello")).toBe("echo: hello");
    expect(log.text()).not.toMatch(/claude/i);
    // It says where it writes (neither path is in config.yaml).
    expect(log.lines.find((l) => l.obj.event === "boot.files")?.obj).toMatchObject({
      tokenFile: join(dir, "config", ".auth_token"),
      stateDir: join(dir, "config", ".molecule"),
    });
    // No session capability is claimed for an executor the daemon keeps no session for.
    const beat = await platform.control.waitFor(() => platform.control.beats(id).at(-1));
    expect(beat.body.runtime_metadata).toMatchObject({ capabilities: { session: false, heartbeat: true } });
  });

  it("the executor's own checks are preflight's and the gate's: a failing one fails the boot with its fix", async () => {
    const broken: Executor = {
      ...echo,
      checks: [
        {
          name: "echo-license",
          timeoutMs: 1_000,
          needsConfig: false,
          run: async () => ({
            issues: [
              {
                severity: "fail",
                code: "E_ECHO_LICENSE",
                title: "No echo license",
                detail: "ECHO_LICENSE is not set",
                fix: "Set ECHO_LICENSE.",
              },
            ],
          }),
        },
      ],
    };
    const error = await startRuntime({ env: env(randomUUID()), executor: broken, logger: log.logger }).catch(
      (e: unknown) => e,
    );
    expect(RuntimeError.isInstance(error) && error.code).toBe("E_PREFLIGHT");
    expect((error as Error).message).toContain("Set ECHO_LICENSE.");
    expect((error as Error).message).not.toMatch(/claude/i);
  });

  it("createCommandExecutor checks its own command: a missing one fails preflight naming it", async () => {
    const executor = createCommandExecutor({ command: "my-agent", cwd: dir, timeoutMs: 10_000 });
    const error = await startRuntime({ env: env(randomUUID()), executor, logger: log.logger }).catch((e: unknown) => e);
    expect(RuntimeError.isInstance(error) && error.code).toBe("E_PREFLIGHT");
    expect((error as Error).message).toContain("my-agent is not on PATH");
  });

  it("createCommandExecutor around a stdin→stdout script boots and answers", async () => {
    const script = join(dir, "agent.sh");
    await writeFile(script, "#!/bin/sh\nread -r line\nprintf 'you said: %s\\n' \"$line\"\n");
    await chmod(script, 0o755);
    const id = randomUUID();
    const executor = createCommandExecutor({ command: script, cwd: dir, timeoutMs: 10_000 });
    daemon = await startRuntime({ env: env(id), executor, logger: log.logger, workspaceDir: dir });
    expect((await readyz(daemon)).status).toBe(200);
    expect(await platform.sendMessage(id, "ping")).toBe("you said: ping");
  });
});
