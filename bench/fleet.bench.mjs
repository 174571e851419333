// Fleet figures (issue 23): FLEET_N (default 1,000) loops of @molecule/heartbeat in one process, 1 s
// interval, all started within one second (as after a rollout), against a counting platform: heap and
// RSS per loop, steady 100 ms bucket max/avg, the recovery peak after a 10 s outage and after an
// outage longer than the TTL (a second fleet with ttlMs 5 000, so it takes seconds, not minutes), and
// the spread of the re-registers. About 60 s.
// The platform is a bare node:http server in a child process (the testkit platform records every
// beat and validates bodies, too heavy for 1,000 loops): it answers {"status":"ok"} to everything,
// 503 during an outage, and counts requests per 100 ms bucket by kind (beat, check, register).
// Run: node --expose-gc bench/fleet.bench.mjs   (after `pnpm exec turbo run build --filter=@molecule/heartbeat`)
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createHeartbeat, createTaskTracker, register } from "../packages/heartbeat/dist/index.js";

const N = Number(process.env.FLEET_N ?? 1_000);
if (!(Number.isInteger(N) && N >= 1)) {
  console.error("FLEET_N must be a positive integer");
  process.exit(2);
}
const INTERVAL_MS = 1_000;
const BUCKET_MS = 100;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const gc = () => globalThis.gc?.();
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
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
const tokens = {
  headers: async () => ({}),
  refreshFromDisk: async () => ({ token: undefined, changed: false }),
  save: async () => undefined,
};
const quiet = { info() {}, warn() {}, error() {} };

const PLATFORM = `
const http = require("node:http");
let down = false;
let log = [];
const server = http.createServer((req, res) => {
  const kind = req.url.startsWith("/registry/heartbeat") ? "beat" : req.url.startsWith("/registry/register") ? "register" : "check";
  log.push(Date.now(), kind === "beat" ? 0 : kind === "check" ? 1 : 2);
  req.resume();
  req.on("end", () => {
    if (down) { res.writeHead(503, { "content-type": "application/json" }); res.end('{"error":"down"}'); return; }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
});
server.maxConnections = 100000;
server.listen(0, "127.0.0.1", () => process.send({ url: "http://127.0.0.1:" + server.address().port }));
process.on("message", (m) => {
  if (m === "down") down = true;
  if (m === "up") down = false;
  if (m === "dump") { process.send({ log }); log = []; }
  if (m === "exit") server.close(() => process.exit(0));
  if (m === "down" || m === "up") process.send({ ack: m, at: Date.now() });
});
`;

async function startPlatform() {
  const child = spawn(process.execPath, ["-e", PLATFORM], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = () => new Promise((resolve) => child.once("message", resolve));
  const { url } = await next();
  return {
    url,
    async set(state) {
      const reply = next();
      child.send(state);
      return (await reply).at;
    },
    async dump() {
      const reply = next();
      child.send("dump");
      const { log } = await reply;
      const out = [];
      for (let i = 0; i < log.length; i += 2) out.push({ at: log[i], kind: ["beat", "check", "register"][log[i + 1]] });
      return out;
    },
    close: () => child.send("exit"),
  };
}

/** Requests per 100 ms bucket in [from, to). */
function buckets(log, from, to, kinds) {
  const n = Math.ceil((to - from) / BUCKET_MS);
  const b = new Array(n).fill(0);
  for (const r of log)
    if (r.at >= from && r.at < to && kinds.includes(r.kind)) b[Math.floor((r.at - from) / BUCKET_MS)] += 1;
  return b;
}
const ALL = ["beat", "check", "register"];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

async function startFleet(platform, ttlMs) {
  const loops = [];
  const registerOne = (workspaceId, signal) =>
    register({
      platformUrl: platform.url,
      workspaceId,
      tokens,
      url: `http://127.0.0.1:1/${workspaceId}`,
      agentCard: { name: "fleet", description: "bench", version: "1.0.0", url: "http://127.0.0.1:1/", skills: [] },
      signal,
      logger: quiet,
    }).catch(() => undefined);
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one register per loop listens to it
  const starts = [];
  for (let i = 0; i < N; i += 1) {
    const workspaceId = randomUUID();
    const hb = createHeartbeat({
      platformUrl: platform.url,
      workspaceId,
      tokens,
      intervalMs: INTERVAL_MS,
      ttlMs,
      metadata: () => METADATA,
      tasks: createTaskTracker(),
      logger: quiet,
    });
    hb.onOutageRecovered(() => void registerOne(workspaceId, controller.signal));
    loops.push(hb);
    // started within one second, as after a rollout: register, then the heartbeat
    starts.push(
      sleep(Math.random() * 1_000).then(async () => {
        await registerOne(workspaceId, controller.signal);
        await hb.start();
      }),
    );
  }
  await Promise.all(starts);
  return {
    loops,
    async stop() {
      controller.abort();
      await Promise.all(loops.map((hb) => hb.stop()));
    },
  };
}

async function outage(platform, downMs, watchMs) {
  const downAt = await platform.set("down");
  await sleep(downMs);
  const upAt = await platform.set("up");
  await sleep(watchMs);
  return { downAt, upAt };
}

const rows = [];
const row = (figure, value) => rows.push([figure, value]);
const started = performance.now();
const platform = await startPlatform();
try {
  gc();
  await sleep(50);
  gc();
  const m0 = process.memoryUsage();
  const fleet = await startFleet(platform, 180_000);
  await sleep(3_000); // every loop past its first beats
  gc();
  await sleep(50);
  gc();
  const m1 = process.memoryUsage();
  row("heap per loop", kb((m1.heapUsed - m0.heapUsed) / N));
  row("RSS per loop", kb((m1.rss - m0.rss) / N));

  await platform.dump();
  const steadyFrom = Date.now();
  await sleep(8_000);
  const steadyTo = Date.now();
  const steadyLog = await platform.dump();
  const steady = buckets(steadyLog, steadyFrom, steadyTo, ALL);
  const steadyAvg = sum(steady) / steady.length;
  const steadyMax = Math.max(...steady);
  row("steady requests/s (beats + checks)", ((sum(steady) * 1_000) / (steadyTo - steadyFrom)).toFixed(0));
  row(
    "steady 100 ms bucket max / avg",
    `${steadyMax} / ${steadyAvg.toFixed(1)} = ${(steadyMax / steadyAvg).toFixed(2)}×`,
  );

  const short = await outage(platform, 10_000, 6_000);
  const shortLog = await platform.dump();
  const afterShort = buckets(shortLog, short.upAt, short.upAt + 6_000, ALL);
  const firstSecShort = sum(afterShort.slice(0, 10));
  row(
    "after a 10 s outage: busiest 100 ms / steady avg",
    `${Math.max(...afterShort)} / ${steadyAvg.toFixed(1)} = ${(Math.max(...afterShort) / steadyAvg).toFixed(2)}×`,
  );
  row("after a 10 s outage: requests in the first second", String(firstSecShort));
  await fleet.stop();

  // Outage longer than the TTL: a second fleet with ttlMs 5 000, down for 8 s.
  const ttlFleet = await startFleet(platform, 5_000);
  await sleep(3_000);
  await platform.dump();
  const long = await outage(platform, 8_000, 8_000);
  const longLog = await platform.dump();
  const afterLong = buckets(longLog, long.upAt, long.upAt + 8_000, ALL);
  row(
    "after an outage > TTL (ttlMs 5 000, 8 s down): busiest 100 ms / steady avg",
    `${Math.max(...afterLong)} / ${steadyAvg.toFixed(1)} = ${(Math.max(...afterLong) / steadyAvg).toFixed(2)}×`,
  );
  row("after an outage > TTL: requests in the first second", String(sum(afterLong.slice(0, 10))));
  const regs = longLog.filter((r) => r.kind === "register" && r.at >= long.upAt).map((r) => r.at - long.upAt);
  const regBuckets = buckets(longLog, long.upAt, long.upAt + 8_000, ["register"]);
  row(
    "re-register spread after it",
    regs.length
      ? `${regs.length} re-registers, first ${Math.min(...regs)} ms, last ${Math.max(...regs)} ms after the platform came back; ${sum(regBuckets.slice(0, 10))} in the first second, busiest 100 ms ${Math.max(...regBuckets)}`
      : "no re-registers",
  );
  const checks = buckets(longLog, long.upAt + 2_000, long.upAt + 8_000, ["check"]);
  row(
    "platform checks 2–8 s after it: busiest 100 ms / avg",
    `${Math.max(...checks)} / ${(sum(checks) / checks.length).toFixed(1)}`,
  );
  await ttlFleet.stop();
} finally {
  platform.close();
}

console.log(`${N} heartbeat loops in one process, ${INTERVAL_MS} ms interval, default jitter, started within 1 s:`);
const width = Math.max(...rows.map((r) => r[0].length));
console.log(`| ${"figure".padEnd(width)} | value |`);
console.log(`| ${"-".repeat(width)} | --- |`);
for (const [figure, value] of rows) console.log(`| ${figure.padEnd(width)} | ${value} |`);
console.log(`(bench took ${((performance.now() - started) / 1_000).toFixed(1)} s)`);
process.exit(0);
