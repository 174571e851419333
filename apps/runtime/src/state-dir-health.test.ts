import { join } from "node:path";
import { createSessionStore, SessionError, type SessionStore } from "@molecule/session";
import { IS_ROOT, mountSmallVolume, removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClaudeCodeExecutor } from "./executors/claude-code.js";
import { createMetrics } from "./metrics.js";
import { createStateDirHealth, rememberingSessionStore } from "./state-dir-health.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("state-health-");
});
afterEach(async () => {
  await removeDir(dir);
});

const enospc = () =>
  new SessionError({
    code: "E_SESSION_STORE_WRITE",
    message: "cannot write the session store",
    cause: Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }),
  });

/** A session store on a "full disk": writes fail while `full.on` (no root needed). */
function fullStore(full: { on: boolean }): SessionStore & { disk: string | undefined } {
  const store = {
    disk: undefined as string | undefined,
    get: async () => store.disk,
    async set(id: string) {
      if (full.on) throw enospc();
      store.disk = id;
    },
    async clear() {
      if (full.on) throw enospc();
      store.disk = undefined;
    },
  };
  return store;
}

describe("state health", () => {
  it("a failed write: ERROR once, counted, a warning; a good probe retries it and clears the warning", async () => {
    const log = sinkLogger();
    const metrics = createMetrics();
    let probeOk = false;
    const health = createStateDirHealth({
      stateDir: dir,
      log: log.logger,
      metrics,
      retryMs: 3_600_000,
      probe: async () => {
        if (!probeOk) throw enospc();
      },
    });
    let changes = 0;
    health.onChange(() => {
      changes += 1;
    });
    const retried: string[] = [];
    health.failed("session", enospc(), async () => {
      retried.push("first");
    });
    health.failed("session", enospc(), async () => {
      retried.push("newest");
    });
    expect(health.warnings()).toEqual(["state volume failing: session (ENOSPC)"]);
    expect(log.lines.filter((l) => l.level === "error").map((l) => l.obj.event)).toEqual(["state.write_failed"]);
    expect(await metrics.registry.getSingleMetricAsString("molecule_state_write_failures_total")).toContain(
      'molecule_state_write_failures_total{what="session"} 2',
    );
    expect(await health.recheck()).toBe(false); // the volume is still full
    expect(retried).toEqual([]);
    probeOk = true;
    expect(await health.recheck()).toBe(true);
    expect(retried).toEqual(["newest"]);
    expect(health.warnings()).toEqual([]);
    expect(changes).toBe(2);
    expect(log.events()).toContain("state.write_recovered");
    health.stop();
  });

  it("rememberingSessionStore keeps an id the disk refused, so the conversation goes on with it", async () => {
    const full = { on: false };
    const disk = fullStore(full);
    const store = rememberingSessionStore(disk);
    await store.set("session-1111");
    full.on = true;
    await expect(store.set("session-2222")).rejects.toMatchObject({ code: "E_SESSION_STORE_WRITE" });
    expect(await store.get()).toBe("session-2222"); // not the stale one on disk
    expect(disk.disk).toBe("session-1111");
    full.on = false;
    await store.set("session-2222");
    expect(disk.disk).toBe("session-2222");
  });
});

describe("the claude-code executor with a session store that cannot be written", () => {
  it("delivers the good answer and reports the write with a retry (injected ENOSPC; no root)", async () => {
    const cli = await fakeAgentCli({ dir, behaviour: "ok", reply: "the answer" });
    const full = { on: true };
    const disk = fullStore(full);
    const reported: Array<{ what: string; code: unknown }> = [];
    const retries: Array<() => Promise<void>> = [];
    const executor = createClaudeCodeExecutor({
      command: cli,
      cwd: dir,
      env: { ...process.env, ANTHROPIC_API_KEY: "fake" },
      sessionStore: rememberingSessionStore(disk),
      timeoutMs: 30_000,
      onStateWriteError(what, error, retry) {
        reported.push({ what, code: (error as { code?: unknown }).code });
        retries.push(retry);
      },
    });
    const reply = await executor.runTurn({
      taskId: "t-1",
      text: "hello",
      signal: new AbortController().signal,
      progress: () => undefined,
    });
    // Before: recordTurn threw and the turn was a `crash` — the answer thrown away.
    expect(reply).toMatchObject({ outcome: "ok", text: "the answer" });
    expect(reported).toEqual([{ what: "session", code: "E_SESSION_STORE_WRITE" }]);
    const sessionId = (await readFakeAgentCalls(cli)).at(-1)?.sessionId;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    full.on = false;
    await retries[0]?.();
    expect(disk.disk).toBe(sessionId);
  });

  it.runIf(IS_ROOT)(
    "a real full state volume (64 KiB tmpfs; root): answer delivered, id kept, written once freed",
    async () => {
      const volume = await mountSmallVolume(join(dir, "state"));
      try {
        const cli = await fakeAgentCli({ dir, behaviour: "ok", reply: "the answer" });
        const health = createStateDirHealth({ stateDir: volume.dir, log: sinkLogger().logger, retryMs: 3_600_000 });
        const store = rememberingSessionStore(createSessionStore({ file: join(volume.dir, "session.json") }));
        const executor = createClaudeCodeExecutor({
          command: cli,
          cwd: dir,
          env: { ...process.env, ANTHROPIC_API_KEY: "fake" },
          sessionStore: store,
          timeoutMs: 30_000,
          onStateWriteError: (what, error, retry) => health.failed(what, error, retry),
        });
        await volume.fill();
        const reply = await executor.runTurn({
          taskId: "t-1",
          text: "hello",
          signal: new AbortController().signal,
          progress: () => undefined,
        });
        expect(reply).toMatchObject({ outcome: "ok", text: "the answer" });
        expect(health.warnings()).toEqual(["state volume failing: session (ENOSPC)"]);
        const sessionId = (await readFakeAgentCalls(cli)).at(-1)?.sessionId;
        expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
        expect(await store.get()).toBe(sessionId);
        await volume.free();
        expect(await health.recheck()).toBe(true);
        expect(await createSessionStore({ file: join(volume.dir, "session.json") }).get()).toBe(sessionId);
        health.stop();
      } finally {
        volume.unmount();
      }
    },
  );
});
