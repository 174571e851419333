// A process whose only job is the heartbeat (or the poller) must stay alive while it runs, as one
// whose only job is a server does. Runs the BUILT package in a real child process.
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { removeDir, startProcess, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
const INTERVAL_MS = 100;

const CHILD = `
import { createDelegationPoller, createHeartbeat, createTaskTracker, defaultCapabilities } from ${JSON.stringify(DIST)};
const [mode, platformUrl, workspaceId, stateDir] = process.argv.slice(2);
// Bootstrap mode: the test platform takes beats without a token while none is live.
const tokens = { headers: async () => ({}), refreshFromDisk: async () => ({ token: undefined, changed: false }) };
const unref = mode.endsWith("-unref");
const part = mode.startsWith("heartbeat")
  ? createHeartbeat({ platformUrl, workspaceId, tokens, tasks: createTaskTracker(), intervalMs: ${INTERVAL_MS}, jitter: 0,
      metadata: () => ({ capabilities: { ...defaultCapabilities } }), unref })
  : createDelegationPoller({ platformUrl, workspaceId, tokens, stateDir, intervalMs: ${INTERVAL_MS}, unref });
// A signal listener does not hold the process open; it only lets the test ask for stop().
process.on("SIGUSR2", () => void part.stop().then(() => process.stdout.write("stopped\\n")));
await part.start();
process.stdout.write("started\\n");
`;

let platform: TestPlatform;
let dir: string;
let script: string;

beforeAll(async () => {
  platform = await startTestPlatform();
  dir = await tempDir("hold-open-");
  script = join(dir, "child.mjs");
  await writeFile(script, CHILD);
});
afterAll(async () => {
  await platform.close();
  await removeDir(dir);
});

function child(mode: string, id: string) {
  return startProcess(process.execPath, [script, mode, platform.url, id, join(dir, `state-${id}`)], {
    env: { PATH: process.env.PATH ?? "" },
    timeoutMs: 60_000,
  });
}

describe("a started loop holds the process open until stop()", () => {
  it.each([
    ["heartbeat", (id: string) => platform.control.beats(id).length],
    ["poller", (id: string) => platform.control.requests("delegations").filter((r) => r.path.includes(id)).length],
  ] as const)(
    "%s: still running after 5 intervals, exits 0 after stop()",
    async (mode, count) => {
      const id = randomUUID();
      const proc = child(mode, id);
      await platform.control
        .waitFor(() => count(id) >= 6, 40_000)
        .catch((e) => {
          throw new Error(`${String(e)} ${JSON.stringify(proc.output())} ${count(id)} exit=${proc.child.exitCode}`);
        });
      expect(proc.child.exitCode).toBeNull();
      expect(proc.output().stdout).toContain("started");
      proc.child.kill("SIGUSR2");
      const result = await proc.exited;
      expect(result).toMatchObject({ code: 0, signal: null });
      expect(result.stdout).toContain("stopped");
      expect(result.stderr).toBe("");
    },
    60_000,
  );

  it("unref: true opts out: the process may exit while the heartbeat runs", async () => {
    const id = randomUUID();
    const result = await child("heartbeat-unref", id).exited;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("stopped");
    expect(platform.control.beats(id).length).toBeLessThan(6);
  });
});
