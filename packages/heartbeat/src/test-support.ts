/**
 * Helpers for this package's tests (not part of the public API, not in the build). Helpers the
 * tests of several packages share live in @molecule/test-support.
 * @internal
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTokenStore, type TokenStore } from "@molecule/auth";
import { capabilityFlags } from "@molecule/internal";
import { createFakeClock, type FakeClock, startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { createTaskTracker, type Heartbeat, type HeartbeatOptions, type RuntimeMetadata } from "./index.js";

/** The beat interval the heartbeat tests run at. */
export const INTERVAL = 30_000;

export const METADATA: RuntimeMetadata = {
  capabilities: capabilityFlags({ heartbeat: true, session: true, status_mgmt: true, retry: true }),
  idle_timeout_seconds: 900,
};

export interface Rig {
  clock: FakeClock;
  platform: TestPlatform;
  workspaceId: string;
  configsDir: string;
  dir: string;
  tokens: TokenStore;
  /** POST /registry/register as the daemon would; saves an issued token. */
  register(): Promise<number>;
  close(): Promise<void>;
}

/** A fake clock, a test platform on that clock, a temp configs dir and a token store; registered. */
export async function createRig(
  options: { watch?: boolean; register?: boolean; orgId?: string; unknownHeartbeat?: "ok" | "not-found" } = {},
): Promise<Rig> {
  const clock = createFakeClock(1_700_000_000_000);
  // The delegation wake-up tests want the platform's canned A2A answer (nothing listens at the
  // workspace's URL here); the default mode would forward to it.
  const platform = await startTestPlatform({
    clock,
    a2aMode: "reply",
    ...(options.orgId === undefined ? {} : { orgId: options.orgId }),
    ...(options.unknownHeartbeat === undefined ? {} : { unknownHeartbeat: options.unknownHeartbeat }),
  });
  const dir = await mkdtemp(join(tmpdir(), "heartbeat-test-"));
  const configsDir = join(dir, "configs");
  const workspaceId = randomUUID();
  await mkdir(configsDir, { mode: 0o700 }); // exists before the store watches it, as /configs does
  const tokens = createTokenStore({
    configsDir,
    watch: options.watch ?? false,
    clock,
    pollIntervalMs: 3_600_000,
    env: options.orgId === undefined ? {} : { MOLECULE_ORG_ID: options.orgId },
  });
  const register = async () => {
    const res = await fetch(`${platform.url}/registry/register`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await tokens.headers()) },
      body: JSON.stringify({
        id: workspaceId,
        url: "http://localhost:8000",
        agent_card: { name: "test-agent", description: "t", version: "1.0.0", url: "http://localhost:8000" },
      }),
    });
    const body = (await res.json()) as { auth_token?: string };
    if (res.status === 200 && typeof body.auth_token === "string") await tokens.save(body.auth_token);
    return res.status;
  };
  if (options.register ?? true) {
    const status = await register();
    if (status !== 200) throw new Error(`register answered ${status}`);
  }
  return {
    clock,
    platform,
    workspaceId,
    configsDir,
    dir,
    tokens,
    register,
    async close() {
      tokens.close();
      await platform.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Options for a heartbeat against the rig's platform, on its clock: `INTERVAL`, no jitter,
 * `METADATA`, a fresh task tracker; `overrides` replace any of them.
 */
export function heartbeatOptions(rig: Rig, overrides: Partial<HeartbeatOptions> = {}): HeartbeatOptions {
  return {
    platformUrl: rig.platform.url,
    workspaceId: rig.workspaceId,
    tokens: rig.tokens,
    intervalMs: INTERVAL,
    jitter: 0,
    metadata: () => METADATA,
    tasks: overrides.tasks ?? createTaskTracker({ clock: rig.clock }),
    clock: rig.clock,
    ...overrides,
  };
}

/** Stops (and forgets) every heartbeat; 2 s of the fake clock bound a final beat against a hung platform. */
export async function stopAll(heartbeats: Heartbeat[], rig: Rig): Promise<void> {
  for (const hb of heartbeats.splice(0)) {
    const stopping = hb.stop();
    await rig.clock.advance(2_000);
    await stopping;
  }
}

/** Waits (real time) until `busy()` is false. */
export async function idle(busy: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (busy()) {
    if (Date.now() > deadline) throw new Error("still busy after 5 s");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Moves the fake clock to `target` (absolute ms) one due timer at a time, letting every request a
 * timer starts finish (real loopback HTTP) before time moves on.
 */
export async function advanceTo(clock: FakeClock, target: number, busy: () => boolean): Promise<void> {
  for (;;) {
    await idle(busy);
    const due = clock.nextDueAt();
    if (due === undefined || due > target) break;
    await clock.advance(Math.max(0, due - clock.now()));
  }
  if (target > clock.now()) await clock.advance(target - clock.now());
  await idle(busy);
}

/** A small deterministic PRNG (mulberry32), uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
