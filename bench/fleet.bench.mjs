// Fleet figures (issue 23): FLEET_N (default 1,000) loops of @molecule/heartbeat in one process, 1 s
// interval, default jitter, all started within one second (as after a rollout), each registering
// first and re-registering from onOutageRecovered, against a counting platform: steady 100 ms bucket
// max/avg, the recovery peak after a 10 s outage and after an outage longer than the TTL (a second
// fleet with ttlMs 5 000, so it takes seconds, not minutes), the spread of the re-registers and of
// the platform checks, heap and RSS per loop.
//
// Two runs of the same scenario (FLEET_CLOCK=fake|real|both, default both):
// - fake: every loop on one testkit fake clock, the platform in this process stamping arrivals with
//   that clock, time moved 10 ms at a time once every request in flight has been answered. What the
//   package sends, exactly when it means to: the machine's load does not change it.
// - real: the real clock, the platform a bare node:http server in a child process (the testkit
//   platform records and validates too much for 1,000 loops). What one process of 1,000 loops does
//   on this machine: a loaded machine stalls the event loop and bunches the requests. Heap and RSS
//   per loop come from this run.
// The platform answers {"status":"ok"} to everything, 503 during an outage, and logs each request's
// arrival time and kind (beat, check, register). About 2 min.
// Run: node --expose-gc bench/fleet.bench.mjs   (after `pnpm --filter @molecule/heartbeat build`)
// HEARTBEAT_DIST=<path to a dist/index.js> measures another build (a before/after comparison).
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createServer } from "node:http";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const { createHeartbeat, createTaskTracker, register } = await import(
  process.env.HEARTBEAT_DIST
    ? pathToFileURL(resolve(process.env.HEARTBEAT_DIST)).href
    : "../packages/heartbeat/dist/index.js"
);
const { createFakeClock } = await import("../packages/testkit/dist/index.js");

const N = Number(process.env.FLEET_N ?? 1_000);
if (!(Number.isInteger(N) && N >= 1)) {
  console.error("FLEET_N must be a positive integer");
  process.exit(2);
}
const MODES = (process.env.FLEET_CLOCK ?? "both") === "both" ? ["fake", "real"] : [process.env.FLEET_CLOCK];
if (!MODES.every((m) => m === "fake" || m === "real")) {
  console.error("FLEET_CLOCK must be fake, real or both");
  process.exit(2);
}
const INTERVAL_MS = 1_000;
const BUCKET_MS = 100;
const FAKE_STEP_MS = 10;
const realSleep = (ms) => new Promise((r) => setTimeout(r, ms));
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
const KINDS = ["beat", "check", "register"];
const kindOf = (url) => (url.startsWith("/registry/heartbeat") ? 0 : url.startsWith("/registry/register") ? 2 : 1);

const PLATFORM = `
const http = require("node:http");
let down = false;
let log = [];
const kindOf = ${kindOf.toString()};
const server = http.createServer((req, res) => {
  log.push(Date.now(), kindOf(req.url));
  req.resume();
  req.on("end", () => {
    if (down) { res.writeHead(503, { "content-type": "application/json" }); res.end('{"error":"down"}'); return; }
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
  });
});
server.maxConnections = 100000;
server.listen(0, "127.0.0.1", () => process.send({ url: "http://127.0.0.1:" + server.address().port }));
process.on("disconnect", () => process.exit(0));
process.on("message", (m) => {
  if (m === "down") down = true;
  if (m === "up") down = false;
  if (m === "dump") { process.send({ log }); log = []; }
  if (m === "exit") server.close(() => process.exit(0));
  if (m === "down" || m === "up") process.send({ ack: m, at: Date.now() });
});
`;

const toRecords = (log) => {
  const out = [];
  for (let i = 0; i < log.length; i += 2) out.push({ at: log[i], kind: KINDS[log[i + 1]] });
  return out;
};

/** The real-clock platform: a child process. */
async function childPlatform() {
  const child = spawn(process.execPath, ["-e", PLATFORM], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = () => new Promise((r) => child.once("message", r));
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
      return toRecords((await reply).log);
    },
    close: () => child.send("exit"),
  };
}

/** The fake-clock platform: in this process, arrivals stamped with the fake clock. */
async function inProcessPlatform(clock) {
  let down = false;
  let log = [];
  const server = createServer((req, res) => {
    log.push(clock.now(), kindOf(req.url));
    req.resume();
    req.on("end", () => {
      res.writeHead(down ? 503 : 200, { "content-type": "application/json" });
      res.end(down ? '{"error":"down"}' : '{"status":"ok"}');
    });
  });
  server.maxConnections = 100_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async set(state) {
      down = state === "down";
      return clock.now();
    },
    async dump() {
      const out = toRecords(log);
      log = [];
      return out;
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Requests per 100 ms bucket in [from, to). */
function buckets(log, from, to, kinds) {
  const b = new Array(Math.ceil((to - from) / BUCKET_MS)).fill(0);
  for (const r of log)
    if (r.at >= from && r.at < to && kinds.includes(r.kind)) b[Math.floor((r.at - from) / BUCKET_MS)] += 1;
  return b;
}
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** One run of the scenario on one clock. Returns its figures. */
async function scenario(mode) {
  const clock = mode === "fake" ? createFakeClock(Date.now()) : undefined;
  const now = () => (clock ? clock.now() : Date.now());
  /** Work in flight that the fake clock must wait for: starts, registers. */
  let pending = 0;
  const fleets = [];
  const busy = () => pending > 0 || fleets.some((f) => f.loops.some((hb) => hb.stats().inFlight > 0));
  const idle = async () => {
    for (let spins = 0; busy(); spins += 1) {
      if (spins > 50_000) throw new Error("the fleet never went idle");
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  /** Waits `ms` of this run's clock: real time, or the fake clock moved in steps, each once all is answered. */
  const sleep = async (ms) => {
    if (!clock) return realSleep(ms);
    const end = clock.now() + ms;
    while (clock.now() < end) {
      await idle();
      await clock.advance(Math.min(FAKE_STEP_MS, end - clock.now()));
    }
    await idle();
  };
  const after = (ms) => new Promise((r) => (clock ? clock.setTimeout(r, ms) : setTimeout(r, ms)));
  const platform = clock ? await inProcessPlatform(clock) : await childPlatform();
  const random = Math.random;

  async function startFleet(ttlMs) {
    const loops = [];
    const controller = new AbortController();
    setMaxListeners(0, controller.signal); // one register per loop listens to it
    const registerOne = (workspaceId) => {
      pending += 1;
      return register({
        platformUrl: platform.url,
        workspaceId,
        tokens,
        url: `http://127.0.0.1:1/${workspaceId}`,
        agentCard: { name: "fleet", description: "bench", version: "1.0.0", url: "http://127.0.0.1:1/", skills: [] },
        signal: controller.signal,
        logger: quiet,
        ...(clock ? { clock } : {}),
      })
        .catch(() => undefined)
        .finally(() => {
          pending -= 1;
        });
    };
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
        tasks: createTaskTracker(clock ? { clock } : {}),
        logger: quiet,
        ...(clock ? { clock } : {}),
      });
      hb.onOutageRecovered(() => void registerOne(workspaceId));
      loops.push(hb);
      // started within one second, as after a rollout: register, then the heartbeat
      starts.push(
        after(random() * 1_000).then(async () => {
          pending += 1; // from when it is due: the fake clock waits for it then, not before
          try {
            await registerOne(workspaceId);
            await hb.start();
          } finally {
            pending -= 1;
          }
        }),
      );
    }
    const fleet = { loops };
    fleets.push(fleet);
    await sleep(1_000);
    await Promise.all(starts);
    return {
      async stop() {
        controller.abort();
        const stopping = Promise.all(loops.map((hb) => hb.stop()));
        if (clock) await clock.advance(2_000); // bounds a final beat
        await stopping;
        fleets.splice(fleets.indexOf(fleet), 1);
      },
    };
  }

  async function outage(downMs, watchMs) {
    const downAt = await platform.set("down");
    await sleep(downMs);
    const upAt = await platform.set("up");
    await sleep(watchMs);
    return { downAt, upAt };
  }

  const fig = {};
  try {
    if (!clock) {
      // One loop and one register first, so the modules loaded on first use (undici, zod) are in the
      // baseline: heap and RSS per loop count what each loop holds, not one-off code.
      const controller = new AbortController();
      await register({
        platformUrl: platform.url,
        workspaceId: randomUUID(),
        tokens,
        url: "http://127.0.0.1:1/warm-up",
        agentCard: { name: "fleet", description: "bench", version: "1.0.0", url: "http://127.0.0.1:1/", skills: [] },
        signal: controller.signal,
        logger: quiet,
      }).catch(() => undefined);
      const warm = createHeartbeat({
        platformUrl: platform.url,
        workspaceId: randomUUID(),
        tokens,
        intervalMs: 50,
        platformCheckEvery: 1,
        metadata: () => METADATA,
        tasks: createTaskTracker(),
        logger: quiet,
      });
      await warm.start();
      await realSleep(300);
      await warm.stop();
    }
    gc();
    await realSleep(50);
    gc();
    const m0 = process.memoryUsage();
    const fleet = await startFleet(180_000);
    await sleep(3_000); // every loop past its first beats
    if (!clock) {
      gc();
      await realSleep(50);
      gc();
      const m1 = process.memoryUsage();
      fig.heap = (m1.heapUsed - m0.heapUsed) / N;
      fig.rss = (m1.rss - m0.rss) / N;
    }
    await platform.dump();
    const steadyFrom = now();
    await sleep(8_000);
    const steadyTo = now();
    const steady = buckets(await platform.dump(), steadyFrom, steadyTo, KINDS);
    fig.steadyPerSecond = (sum(steady) * 1_000) / (steadyTo - steadyFrom);
    fig.steadyAvg = sum(steady) / steady.length;
    fig.steadyMax = Math.max(...steady);

    const short = await outage(10_000, 6_000);
    const afterShort = buckets(await platform.dump(), short.upAt, short.upAt + 6_000, KINDS);
    fig.shortPeak = Math.max(...afterShort);
    fig.shortFirstSecond = sum(afterShort.slice(0, 10));
    await fleet.stop();

    // Outage longer than the TTL: a second fleet with ttlMs 5 000, down for 8 s.
    const ttlFleet = await startFleet(5_000);
    await sleep(3_000);
    await platform.dump();
    const long = await outage(8_000, 8_000);
    const longLog = await platform.dump();
    const afterLong = buckets(longLog, long.upAt, long.upAt + 8_000, KINDS);
    fig.longPeak = Math.max(...afterLong);
    fig.longFirstSecond = sum(afterLong.slice(0, 10));
    const regs = longLog.filter((r) => r.kind === "register" && r.at >= long.upAt).map((r) => r.at - long.upAt);
    const regBuckets = buckets(longLog, long.upAt, long.upAt + 8_000, ["register"]);
    fig.registers = {
      count: regs.length,
      first: regs.length ? Math.min(...regs) : Number.NaN,
      last: regs.length ? Math.max(...regs) : Number.NaN,
      firstSecond: sum(regBuckets.slice(0, 10)),
      peak: Math.max(...regBuckets),
    };
    const checks = buckets(longLog, long.upAt + 2_000, long.upAt + 8_000, ["check"]);
    fig.checkPeak = Math.max(...checks);
    fig.checkAvg = sum(checks) / checks.length;
    await ttlFleet.stop();
  } finally {
    platform.close();
  }
  return fig;
}

const started = performance.now();
const results = {};
for (const mode of MODES) results[mode] = await scenario(mode);

const ratio = (a, b) => a / b;
const x = (r) => `${r.toFixed(2)}×`;
const verdict = (value, limit) => (value <= limit ? "met" : "not met");
const rows = [];
const row = (figure, target, cells) => rows.push([figure, target, ...cells]);
const each = (fn) => MODES.map((m) => fn(results[m]));
row(
  "steady requests/s (beats + checks; offered ≈ 1,200)",
  "",
  each((f) => f.steadyPerSecond.toFixed(0)),
);
row(
  "steady 100 ms bucket max / avg",
  "≤ 1.5×",
  each(
    (f) =>
      `${f.steadyMax} / ${f.steadyAvg.toFixed(1)} = ${x(ratio(f.steadyMax, f.steadyAvg))} ${verdict(ratio(f.steadyMax, f.steadyAvg), 1.5)}`,
  ),
);
row(
  "after a 10 s outage: busiest 100 ms / steady avg",
  "≤ 2×",
  each(
    (f) =>
      `${f.shortPeak} / ${f.steadyAvg.toFixed(1)} = ${x(ratio(f.shortPeak, f.steadyAvg))} ${verdict(ratio(f.shortPeak, f.steadyAvg), 2)}`,
  ),
);
row(
  "after a 10 s outage: requests in the first second",
  "",
  each((f) => String(f.shortFirstSecond)),
);
row(
  "after an outage > TTL (ttlMs 5 000, 8 s down; re-registers included): busiest 100 ms / steady avg",
  "≤ 2×",
  each(
    (f) =>
      `${f.longPeak} / ${f.steadyAvg.toFixed(1)} = ${x(ratio(f.longPeak, f.steadyAvg))} ${verdict(ratio(f.longPeak, f.steadyAvg), 2)}`,
  ),
);
row(
  "after an outage > TTL: requests in the first second",
  "",
  each((f) => String(f.longFirstSecond)),
);
row(
  "re-registers after it: count, first–last ms, in the first second, busiest 100 ms",
  "",
  each(
    (f) =>
      `${f.registers.count}, ${f.registers.first.toFixed(0)}–${f.registers.last.toFixed(0)} ms, ${f.registers.firstSecond}, ${f.registers.peak}`,
  ),
);
row(
  "platform checks 2–8 s after it: busiest 100 ms / avg",
  "",
  each((f) => `${f.checkPeak} / ${f.checkAvg.toFixed(1)} = ${x(ratio(f.checkPeak, f.checkAvg))}`),
);
row(
  "heap per loop",
  "≤ 48 KB",
  each((f) => (f.heap === undefined ? "—" : `${kb(f.heap)} ${verdict(f.heap, 48 * 1024)}`)),
);
row(
  "RSS per loop",
  "",
  each((f) => (f.rss === undefined ? "—" : kb(f.rss))),
);

console.log(
  `${N} heartbeat loops in one process, ${INTERVAL_MS} ms interval, default jitter, started within 1 s (${MODES.map((m) => (m === "fake" ? "fake clock: what the package sends" : "real clock: this machine")).join("; ")}):`,
);
const head = ["figure", "target", ...MODES.map((m) => (m === "fake" ? "fake clock" : "real clock"))];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
console.log(line(head));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
console.log(`(bench took ${((performance.now() - started) / 1_000).toFixed(1)} s)`);
process.exit(0);
