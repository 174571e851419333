// @molecule/heartbeat figures: beats/second one process drives, RSS of one instance over 1,000 beats,
// event-loop delay while a CPU-heavy task runs beside the heartbeat, and what must stay prompt beside
// the fleet smoothing (real clock, default jitter): a wedge reaching the platform, 401s around a
// token rotation. Loopback only, < 60 s. HEARTBEAT_DIST=<path to a dist/index.js> measures another build.
// Run: node --expose-gc bench/heartbeat.bench.mjs   (after `pnpm exec turbo run build --filter=@molecule/heartbeat...`)
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createTokenStore } from "../packages/auth/dist/index.js";
import { createFakeClock, startTestPlatform } from "../packages/testkit/dist/index.js";
import { clearWedge, markWedged } from "../packages/wedge/dist/index.js";

const { createHeartbeat, createTaskTracker } = await import(
  process.env.HEARTBEAT_DIST
    ? pathToFileURL(resolve(process.env.HEARTBEAT_DIST)).href
    : "../packages/heartbeat/dist/index.js"
);

const METADATA = {
  capabilities: {
    heartbeat: true,
    scheduler: false,
    session: true,
    status_mgmt: true,
    retry: true,
    activity_decoration: false,
    channel_dispatch: false,
  },
};
// Unregistered workspace ids: the platform answers 200 without a token (bootstrap), as for a fresh workspace.
const tokens = { headers: async () => ({}), refreshFromDisk: async () => ({ token: undefined, changed: false }) };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const gc = () => globalThis.gc?.();
const mb = (bytes) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const ms = (ns) => `${(ns / 1e6).toFixed(2)} ms`;

/** The platform in its own process, so the figures are the heartbeat side's. */
async function platformProcess() {
  const testkit = fileURLToPath(new URL("../packages/testkit/dist/index.js", import.meta.url));
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { startTestPlatform } = await import(${JSON.stringify(testkit)});
       const p = await startTestPlatform({ recordLimit: 1000 });
       process.stdout.write(p.url + "\\n");
       process.stdin.on("end", () => p.close().then(() => process.exit(0)));
       process.stdin.resume();`,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const url = await new Promise((resolve, reject) => {
    child.stdout.once("data", (d) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`platform exited ${code}`)));
  });
  return { url, close: () => child.stdin.end() };
}

async function throughput() {
  const platform = await platformProcess();
  const instances = 1_000;
  const intervalMs = 100;
  const runMs = 6_000;
  const fleet = [];
  for (let i = 0; i < instances; i += 1) {
    fleet.push(
      createHeartbeat({
        platformUrl: platform.url,
        workspaceId: randomUUID(),
        tokens,
        intervalMs,
        jitter: 0.1,
        metadata: () => METADATA,
        tasks: createTaskTracker(),
      }),
    );
  }
  for (const hb of fleet) hb.start();
  await sleep(1_000); // warm-up
  const count = () => fleet.reduce((n, hb) => n + hb.stats().beatsOk, 0);
  const failed = () => fleet.reduce((n, hb) => n + hb.stats().beatsFailed, 0);
  const before = count();
  const cpuBefore = process.cpuUsage();
  const t = performance.now();
  await sleep(runMs);
  const elapsed = (performance.now() - t) / 1_000;
  const beats = count() - before;
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(fleet.map((hb) => hb.stop()));
  platform.close();
  const offered = (instances * 1_000) / intervalMs;
  console.log(
    `throughput: ${instances} instances × ${intervalMs} ms interval (offered ${offered}/s) → ${(beats / elapsed).toFixed(0)} beats/s delivered over ${elapsed.toFixed(1)} s, ${failed()} failed`,
  );
  console.log(
    `  heartbeat-side CPU: ${(((cpu.user + cpu.system) / 1e3 / (elapsed * 1_000)) * 100).toFixed(0)}% of one core → ${((cpu.user + cpu.system) / beats).toFixed(0)} µs CPU per beat`,
  );
}

async function rssOverBeats() {
  const clock = createFakeClock(Date.now());
  const platform = await startTestPlatform({ recordLimit: 50 });
  const tasks = createTaskTracker({ clock });
  const hb = createHeartbeat({
    platformUrl: platform.url,
    workspaceId: randomUUID(),
    tokens,
    intervalMs: 30_000,
    jitter: 0.1,
    metadata: () => METADATA,
    tasks,
    clock,
  });
  hb.start();
  const samples = [];
  const marks = [100, 250, 500, 750, 1_000];
  const idle = async () => {
    while (hb.stats().inFlight > 0) await new Promise((r) => setImmediate(r));
  };
  let turns = 0;
  while (hb.stats().beatsOk < 1_000) {
    await idle();
    // a turn every 10 beats, so the tracker, the body and the immediate-beat path are exercised too
    if (hb.stats().beatsOk >= turns * 10) {
      turns += 1;
      tasks.start(`turn ${turns}`)(turns % 2 === 0 ? "crash" : "ok");
      await idle();
    }
    await clock.advance(Math.max(0, (clock.nextDueAt() ?? clock.now()) - clock.now()));
    await idle();
    if (marks.length > 0 && hb.stats().beatsOk >= marks[0]) {
      marks.shift();
      gc();
      await sleep(20);
      gc();
      const m = process.memoryUsage();
      samples.push({ beats: hb.stats().beatsOk, rss: m.rss, heap: m.heapUsed });
    }
  }
  await hb.stop();
  await platform.close();
  console.log("rss over 1,000 beats (one instance, test platform in the same process, after gc):");
  for (const s of samples)
    console.log(`  after ${String(s.beats).padStart(5)} beats: rss ${mb(s.rss)}, heap used ${mb(s.heap)}`);
  const first = samples[0];
  const last = samples.at(-1);
  console.log(`  growth from beat 100 to the end: rss ${mb(last.rss - first.rss)}, heap ${mb(last.heap - first.heap)}`);
}

function cpuSlice(sliceMs) {
  const end = performance.now() + sliceMs;
  let h = Buffer.alloc(32);
  while (performance.now() < end) h = createHash("sha256").update(h).digest();
  return h;
}

/** A CPU-heavy task that works in `sliceMs` synchronous slices for `totalMs`. */
async function cpuTask(totalMs, sliceMs) {
  const end = performance.now() + totalMs;
  while (performance.now() < end) {
    cpuSlice(sliceMs);
    await new Promise((r) => setImmediate(r));
  }
}

async function loopDelay() {
  const platform = await platformProcess();
  const run = async (label, withHeartbeat) => {
    const fleet = [];
    if (withHeartbeat) {
      for (let i = 0; i < 20; i += 1) {
        fleet.push(
          createHeartbeat({
            platformUrl: platform.url,
            workspaceId: randomUUID(),
            tokens,
            intervalMs: 200,
            jitter: 0.1,
            metadata: () => METADATA,
            tasks: createTaskTracker(),
          }),
        );
      }
      for (const hb of fleet) hb.start();
    }
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await cpuTask(4_000, 10);
    h.disable();
    const ok = fleet.reduce((n, hb) => n + hb.stats().beatsOk, 0);
    const failed = fleet.reduce((n, hb) => n + hb.stats().beatsFailed, 0);
    await Promise.all(fleet.map((hb) => hb.stop()));
    console.log(
      `  ${label}: p50 ${ms(h.percentile(50))}, p99 ${ms(h.percentile(99))}, max ${ms(h.max)}${withHeartbeat ? ` — ${ok} beats ok, ${failed} failed` : ""}`,
    );
  };
  console.log("event-loop delay while a CPU-heavy task (10 ms sha256 slices) runs for 4 s in the same process:");
  await run("CPU task alone", false);
  await run("CPU task + 20 heartbeats at 200 ms", true);
  platform.close();
}

/** What must stay prompt: a wedge reaches the platform, a rotated token gets no 401 (real clock, default jitter). */
async function prompt() {
  const platform = await startTestPlatform({ recordLimit: 1000 });
  const dir = await mkdtemp(join(tmpdir(), "hb-bench-"));
  const configsDir = join(dir, "configs");
  await mkdir(configsDir, { mode: 0o700 });
  const store = createTokenStore({ configsDir, watch: true, env: {} });
  const workspaceId = randomUUID();
  const res = await fetch(`${platform.url}/registry/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      id: workspaceId,
      url: "http://localhost:8000",
      agent_card: { name: "b", url: "http://localhost:8000" },
    }),
  });
  await store.save((await res.json()).auth_token);
  const intervalMs = 1_000;
  const hb = createHeartbeat({
    platformUrl: platform.url,
    workspaceId,
    tokens: store,
    intervalMs,
    metadata: () => METADATA,
    tasks: createTaskTracker(),
  });
  await hb.start();
  await platform.control.waitFor(() => platform.control.status(workspaceId) === "online");
  await sleep(1_500);
  const wedges = [];
  const rotations = [];
  for (let i = 0; i < 5; i += 1) {
    const t = performance.now();
    markWedged(`bench wedge ${i}`);
    await platform.control.waitFor(() => platform.control.status(workspaceId) === "degraded");
    wedges.push(performance.now() - t);
    clearWedge();
    await platform.control.waitFor(() => platform.control.status(workspaceId) === "online");
    await sleep(300 + Math.random() * intervalMs);
    const r = performance.now();
    const fresh = platform.control.rotateToken(workspaceId, { writeTo: store.file });
    await platform.control.waitFor(() =>
      platform.control.beats(workspaceId).some((b) => b.token === fresh && b.status === 200),
    );
    rotations.push(performance.now() - r);
    await sleep(Math.random() * intervalMs);
  }
  const unauthorized = platform.control.beats(workspaceId).filter((b) => b.status === 401).length;
  await hb.stop();
  store.close();
  await platform.close();
  await rm(dir, { recursive: true, force: true });
  const f = (xs) => `median ${(xs.sort((a, b) => a - b)[2]).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;
  console.log(`what stays prompt (1 loop, ${intervalMs} ms interval, default jitter, 5 tries each):`);
  console.log(`  markWedged → platform degraded: ${f(wedges)} (must be ≤ 300 ms)`);
  console.log(
    `  token rotated on disk → a beat with it answered 200: ${f(rotations)}; 401s: ${unauthorized} (must be 0)`,
  );
}

const started = performance.now();
await rssOverBeats(); // first, in a fresh process
await loopDelay();
await throughput();
await prompt();
console.log(`(bench took ${((performance.now() - started) / 1_000).toFixed(1)} s)`);
