// The three adapters of the READMEs, run as an adapter author runs them, against the built packages
// and the testkit platform: no agent binary on PATH, no agent credentials anywhere.
import { randomUUID } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { resetWedgeForTests } from "@molecule/wedge/test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startCommandAgent } from "./command-agent.js";
import { startEchoAgent } from "./echo-agent.js";
import { startSidecar } from "./sidecar.js";

let platform: TestPlatform;
let dir: string;
let id: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  resetWedgeForTests();
  platform = await startTestPlatform();
  dir = await tempDir("adapter-");
  id = randomUUID();
  await mkdir(join(dir, "configs"));
  await mkdir(join(dir, "home"));
  await mkdir(join(dir, "bin"));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await platform.close();
  await removeDir(dir);
  resetWedgeForTests();
});

/** What the platform's provisioner gives a workspace, and an environment with no agent anywhere. */
function env(): NodeJS.ProcessEnv {
  return {
    WORKSPACE_ID: id,
    PLATFORM_URL: platform.url,
    CONFIGS_DIR: join(dir, "configs"),
    HOSTNAME: "localhost",
    HOME: join(dir, "home"),
    PATH: join(dir, "bin"),
    LOG_LEVEL: "warn",
    MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1", // startRuntime binds 0.0.0.0 by default, with a2a.auth: none
  };
}

const status = () => platform.control.status(id);
const lastBeat = () => platform.control.beats(id).at(-1);

describe("heartbeat + auth + wedge alone (packages/heartbeat/README.md)", () => {
  it("registers, beats, goes degraded on a wedge, survives a token rotation, and stops with a final beat", async () => {
    const sidecar = await startSidecar("http://localhost:8000", env());
    cleanups.push(() => sidecar.stop());
    const issued = platform.control.registrations(id)[0]?.issuedToken;
    expect(issued).toBeTruthy();
    expect((await readFile(join(dir, "configs", ".auth_token"), "utf8")).trim()).toBe(issued);
    await platform.control.waitFor(() => lastBeat()?.status === 200 && status() === "online");

    sidecar.wedged("model API unreachable — restart the workspace");
    await platform.control.waitFor(() => status() === "degraded");
    expect(platform.workspaces.get(id)).toMatchObject({
      runtimeState: "wedged",
      sampleError: expect.stringContaining("model API"),
    });

    // Re-provisioned: the platform revokes the old token; the new one lands in the token file.
    const rotated = platform.control.rotateToken(id);
    const done = sidecar.tasks.start("a turn"); // a state change beats at once: with the revoked token → 401
    await platform.control.waitFor(() => lastBeat()?.status === 401);
    await writeFile(join(dir, "rotated.tmp"), `${rotated}\n`, { mode: 0o600 }); // as a provisioner writes it:
    await rename(join(dir, "rotated.tmp"), join(dir, "configs", ".auth_token")); // whole, then renamed
    await platform.control.waitFor(() => lastBeat()?.status === 200 && lastBeat()?.token === rotated);

    done("ok");
    sidecar.recovered();
    await platform.control.waitFor(() => status() === "online");
    await sidecar.stop();
    expect(lastBeat()?.body).toMatchObject({ active_tasks: 0, current_task: "" });
    expect(platform.control.registrations(id)).toHaveLength(1);
  });
});

describe("the runtime with an executor of your own (apps/runtime/README.md)", () => {
  it("boots with no runtime in config.yaml, is ready, and answers through the platform and directly", async () => {
    await writeFile(join(dir, "configs", "config.yaml"), "name: echo-agent\na2a:\n  port: 0\n");
    const daemon = await startEchoAgent(join(dir, "configs"), env());
    cleanups.push(() => daemon.stop());
    expect((await fetch(`http://127.0.0.1:${daemon.port}/readyz`)).status).toBe(200);
    expect(daemon.status()).toMatchObject({ registered: true, ready: true });
    expect(await platform.sendMessage(id, "hello")).toBe("echo: hello");
    // The README's fetch example, as written there.
    const res = await fetch(daemon.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "message/send",
        params: { message: { role: "user", messageId: "m-1", parts: [{ kind: "text", text: "hi" }] } },
      }),
    });
    const reply = (await res.json()) as { result: { kind: string; parts: Array<{ kind: string; text: string }> } };
    expect(reply.result).toMatchObject({ kind: "message", parts: [{ kind: "text", text: "echo: hi" }] });
  });
});

describe("createCommandExecutor around a stdin→stdout script (apps/runtime/README.md)", () => {
  it("boots, checks its command, and answers with the script's stdout", async () => {
    await writeFile(join(dir, "configs", "config.yaml"), "name: shell-agent\na2a:\n  port: 0\n");
    const script = join(dir, "agent.sh");
    await writeFile(script, '#!/bin/sh\nread -r line\nprintf "you said: %s\\n" "$line"\n');
    await chmod(script, 0o755);
    const daemon = await startCommandAgent(script, join(dir, "configs"), env());
    cleanups.push(() => daemon.stop());
    expect(await platform.sendMessage(id, "ping")).toBe("you said: ping");
    await expect(startCommandAgent(join(dir, "missing.sh"), join(dir, "configs"), env())).rejects.toThrow(
      /missing\.sh is not an executable file/,
    );
  });
});
