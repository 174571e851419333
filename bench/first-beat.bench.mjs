// First beat close to the floor (issue 23, goal 4): from spawning a fresh `node` to the first request
// reaching a loopback platform, for a bare-node `fetch` (the floor) and for `@molecule/heartbeat`
// (import the package, createHeartbeat, start: its first beat), plus what the package's pieces cost
// to import. Each run is a child process; the variants are interleaved; median [min–max] of
// FIRST_BEAT_RUNS (default 15) runs. The platform is a node:http server in this process, timed on
// this process's clock from just before the spawn to the request's arrival.
// Run: node bench/first-beat.bench.mjs   (after `pnpm --filter @molecule/heartbeat build`)
// HEARTBEAT_DIST=<path to a dist/index.js> measures another build; HEARTBEAT_BEFORE_DIST=<path> adds a
// row for a second build in the same interleaved run (a before/after comparison).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.FIRST_BEAT_RUNS ?? 15);
if (!(Number.isInteger(RUNS) && RUNS >= 1)) {
  console.error("FIRST_BEAT_RUNS must be a positive integer");
  process.exit(2);
}
const dist = pathToFileURL(resolve(process.env.HEARTBEAT_DIST ?? `${here}/../packages/heartbeat/dist/index.js`)).href;
const heartbeatDir = resolve(here, "../packages/heartbeat");

const heartbeatChild = (dist) => `
const { createHeartbeat, createTaskTracker, defaultCapabilities } = await import(${JSON.stringify(dist)});
const hb = createHeartbeat({
  platformUrl: process.env.PLATFORM_URL,
  workspaceId: "first-beat",
  tokens: { headers: async () => ({}), refreshFromDisk: async () => ({ token: undefined, changed: false }) },
  metadata: () => ({ capabilities: { ...defaultCapabilities } }),
  tasks: createTaskTracker(),
});
await hb.start();
`;
const BARE_CHILD = `await fetch(process.env.PLATFORM_URL + "/registry/heartbeat", {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workspace_id: "first-beat" }),
});`;
/** Import cost of one module, then a bare fetch: the fetch's arrival minus the bare floor is the import. */
const importThenFetch = (specifier) => `await import(${JSON.stringify(specifier)});\n${BARE_CHILD}`;

const VARIANTS = [
  ["bare-node fetch (the floor)", BARE_CHILD],
  ["@molecule/heartbeat: import, createHeartbeat, start → first beat", heartbeatChild(dist)],
  ["import zod, then fetch", importThenFetch("zod")],
  ["import zod/mini, then fetch", importThenFetch("zod/mini")],
  ["import undici, then fetch", importThenFetch("undici")],
];
if (process.env.HEARTBEAT_BEFORE_DIST) {
  const before = pathToFileURL(resolve(process.env.HEARTBEAT_BEFORE_DIST)).href;
  VARIANTS.splice(2, 0, ["@molecule/heartbeat, the other build (HEARTBEAT_BEFORE_DIST)", heartbeatChild(before)]);
}

let waiting;
const server = createServer((req, res) => {
  const at = performance.now();
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    waiting?.(at);
    waiting = undefined;
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}`;

async function once(source) {
  const arrived = new Promise((r) => {
    waiting = r;
  });
  const t0 = performance.now();
  // cwd = the heartbeat package, so `zod` and `undici` resolve to the versions it depends on
  const child = spawn(process.execPath, ["--input-type=module", "-e", source], {
    cwd: heartbeatDir,
    env: { ...process.env, PLATFORM_URL: url },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((r) => child.once("exit", r));
  const timeout = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const at = await Promise.race([arrived, exited.then(() => Number.NaN)]);
  child.kill("SIGKILL");
  await exited;
  clearTimeout(timeout);
  return at - t0;
}

const times = VARIANTS.map(() => []);
for (let run = 0; run < RUNS; run += 1) {
  for (let v = 0; v < VARIANTS.length; v += 1) {
    const i = (v + run) % VARIANTS.length; // interleaved, the order rotating per run
    times[i].push(await once(VARIANTS[i][1]));
  }
}
server.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (ms) => ms.toFixed(0);
const floor = median(times[0]);
console.log(`spawn → first request at a loopback platform, ms, median [min–max] of ${RUNS} interleaved runs:`);
const width = Math.max(...VARIANTS.map((v) => v[0].length));
console.log(`| ${"variant".padEnd(width)} | ms | − floor | ratio |`);
console.log(`| ${"-".repeat(width)} | --- | --- | --- |`);
VARIANTS.forEach(([name], i) => {
  const m = median(times[i]);
  console.log(
    `| ${name.padEnd(width)} | ${f(m)} [${f(Math.min(...times[i]))}–${f(Math.max(...times[i]))}] | ${i === 0 ? "—" : `${m >= floor ? "+" : "−"}${f(Math.abs(m - floor))}`} | ${(m / floor).toFixed(2)}× |`,
  );
});
const extra = median(times[1]) - floor;
console.log(
  `goal 4 (first beat ≤ bare-node fetch + 100 ms): ${extra >= 0 ? "+" : "−"}${f(Math.abs(extra))} ms → ${extra <= 100 ? "met" : "not met"}`,
);
