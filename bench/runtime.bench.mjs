// @molecule/runtime figures (issue 7): time from boot to the first successful beat, the daemon's
// idle RSS and CPU over minutes of beats at a 1 s interval, time from `markWedged` to the platform's
// `degraded`. Loopback only; every child process and temp dir is removed at the end.
// The idle phase runs BENCH_IDLE_SECONDS (default 300, as the issue asks), so this bench takes about
// 6 minutes by default; BENCH_IDLE_SECONDS=30 gives a quick run.
// Run: node --expose-gc bench/runtime.bench.mjs
//   (after `pnpm exec turbo run build --filter=@molecule/runtime... --filter=@molecule/testkit`)
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRuntime } from "../apps/runtime/dist/index.js";
import { startTestPlatform } from "../packages/testkit/dist/index.js";
import { clearWedge, isWedged, markWedged } from "../packages/wedge/dist/index.js";

const BIN = fileURLToPath(new URL("../apps/runtime/dist/bin.js", import.meta.url));
const BOOT_RUNS = 5;
const WEDGE_RUNS = 20;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
const SAMPLE_EVERY_MS = 5_000;
if (!(Number.isFinite(IDLE_SECONDS) && IDLE_SECONDS >= 5)) {
  console.error("BENCH_IDLE_SECONDS must be a number of seconds, at least 5");
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n) => n.toFixed(1);
const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const clkTck = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

// Everything to clean up, whatever happens.
const tempDirs = new Set();
const children = new Set();
let platform;
async function cleanup() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
  await platform?.close().catch(() => undefined);
  platform = undefined;
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  tempDirs.clear();
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

/** A temp workspace: config dir with config.yaml, a tiny echo agent, state dir, cwd. */
async function makeWorkspace() {
  const root = await mkdtemp(join(tmpdir(), "molecule-bench-runtime-"));
  tempDirs.add(root);
  const configs = join(root, "configs");
  const state = join(root, "state");
  const work = join(root, "work");
  const home = join(root, "home");
  for (const dir of [configs, work, home]) await mkdir(dir, { recursive: true, mode: 0o700 });
  const agent = join(root, "echo-agent.mjs");
  await writeFile(
    agent,
    `#!${process.execPath}\nlet s = "";\nprocess.stdin.on("data", (d) => (s += d));\nprocess.stdin.on("end", () => process.stdout.write("echo: " + s));\n`,
  );
  await chmod(agent, 0o755);
  await writeFile(
    join(configs, "config.yaml"),
    [
      "name: bench",
      "runtime: command",
      "runtime_config:",
      `  command: ${JSON.stringify(agent)}`,
      "prompt_files: []",
      "a2a:",
      "  port: 0",
      "heartbeat:",
      "  interval_seconds: 1",
      "  jitter: 0",
      "",
    ].join("\n"),
  );
  const id = randomUUID();
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    WORKSPACE_ID: id,
    PLATFORM_URL: platform.url,
    HOSTNAME: "localhost",
    WORKSPACE_CONFIG_PATH: configs,
    MOLECULE_STATE_DIR: state,
    LOG_LEVEL: "warn",
  };
  return { id, env, work, root };
}

function spawnDaemon(ws) {
  const child = spawn(process.execPath, [BIN, "--host", "127.0.0.1"], {
    cwd: ws.work,
    env: ws.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-4_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("exit", () => children.delete(child));
  return { child, output: () => output };
}

async function stopDaemon(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

const firstOkBeat = (id) => platform.control.beats(id).find((b) => b.status === 200);

async function waitForFirstBeat(id, proc, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const beat = firstOkBeat(id);
    if (beat) return beat;
    if (proc.child.exitCode !== null) throw new Error(`daemon exited ${proc.child.exitCode}:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`no successful beat within ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(2);
  }
}

/** Boot (spawn of the built daemon) → the first beat the platform answered 200. */
async function bootToFirstBeat() {
  const times = [];
  for (let i = 0; i < BOOT_RUNS; i += 1) {
    const ws = await makeWorkspace();
    const spawnedAt = Date.now(); // platform clock is the real Date.now()
    const proc = spawnDaemon(ws);
    const beat = await waitForFirstBeat(ws.id, proc);
    times.push(beat.at - spawnedAt);
    await stopDaemon(proc.child);
  }
  console.log(
    `boot → first successful beat (spawn of node apps/runtime/dist/bin.js, ${BOOT_RUNS} runs): median ${fmt(median(times))} ms, min ${fmt(Math.min(...times))} ms, max ${fmt(Math.max(...times))} ms`,
  );
  console.log(`  runs: ${times.map((t) => `${t} ms`).join(", ")}`);
}

async function procSample(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // fields after "(comm)": state is field 3; utime/stime are fields 14/15
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuMs = ((Number(rest[11]) + Number(rest[12])) * 1000) / clkTck;
  return { at: performance.now(), rssKb, cpuMs };
}

/** One idle daemon child: RSS and CPU sampled from /proc every 5 s while it beats every second. */
async function idle() {
  const ws = await makeWorkspace();
  const proc = spawnDaemon(ws);
  await waitForFirstBeat(ws.id, proc);
  const pid = proc.child.pid;
  const wallStart = Date.now();
  const samples = [await procSample(pid)];
  const end = samples[0].at + IDLE_SECONDS * 1000;
  while (performance.now() < end) {
    await sleep(Math.min(SAMPLE_EVERY_MS, Math.max(0, end - performance.now())));
    if (proc.child.exitCode !== null) throw new Error(`daemon exited during the idle run:\n${proc.output()}`);
    samples.push(await procSample(pid));
  }
  const wallEnd = Date.now();
  await sleep(300); // let a beat in flight at the end get its answer
  const inWindow = platform.control.beats(ws.id).filter((b) => b.at >= wallStart && b.at <= wallEnd);
  const beats = inWindow.filter((b) => b.status === 200).length;
  const notOk = inWindow.length - beats;
  const logLines = proc.output().split("\n").filter(Boolean).length;
  await stopDaemon(proc.child);
  const first = samples[0];
  const last = samples[samples.length - 1];
  const wallMs = last.at - first.at;
  const cpuMs = last.cpuMs - first.cpuMs;
  const rss = samples.map((s) => s.rssKb);
  const tail = samples.slice(Math.floor(samples.length / 2)).map((s) => s.rssKb);
  console.log(
    `idle daemon (child process, heartbeat every 1 s, jitter 0, delegation poll every 30 s) over ${fmt(wallMs / 1000)} s (BENCH_IDLE_SECONDS=${IDLE_SECONDS}), ${samples.length} samples every ${SAMPLE_EVERY_MS / 1000} s:`,
  );
  console.log(
    `  RSS: start ${mb(first.rssKb)}, end ${mb(last.rssKb)}, min ${mb(Math.min(...rss))}, max ${mb(Math.max(...rss))}, second half between ${mb(Math.min(...tail))} and ${mb(Math.max(...tail))}`,
  );
  const perMinute = samples.filter(
    (_, i) => i % Math.round(60_000 / SAMPLE_EVERY_MS) === 0 || i === samples.length - 1,
  );
  console.log(`  RSS every minute: ${perMinute.map((x) => mb(x.rssKb)).join(", ")}`);
  console.log(
    `  CPU: ${fmt(cpuMs)} ms in total = ${((cpuMs / wallMs) * 100).toFixed(2)} % of one core; ${beats} beats answered 200, ${notOk} not → ${(cpuMs / Math.max(1, beats)).toFixed(2)} ms CPU per beat (includes the poller, timers, GC)`,
  );
  console.log(`  daemon log lines at LOG_LEVEL=warn during the run: ${logLines}`);
}

/** In-process daemon: markWedged() → the platform's status is `degraded`; clearWedge() → `online`. */
async function wedgeToDegraded() {
  const ws = await makeWorkspace();
  const handle = await startRuntime({ env: ws.env, workspaceDir: ws.work, host: "127.0.0.1" });
  const status = () => platform.control.status(ws.id);
  // Tight poll: setImmediate lets the loopback I/O of daemon and platform run between checks.
  const until = (want, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      const check = () => {
        if (status() === want) return resolve(performance.now());
        if (performance.now() > deadline) return reject(new Error(`platform status stayed ${status()}, not ${want}`));
        setImmediate(check);
      };
      check();
    });
  const times = [];
  const recover = [];
  try {
    await until("online");
    for (let i = 0; i < WEDGE_RUNS; i += 1) {
      // Land each mark at a different point of the 1 s beat cycle, and past the heartbeat's 250 ms
      // spacing of immediate beats (the clearWedge beat before it).
      await sleep(300 + Math.floor(Math.random() * 1_000));
      const t0 = performance.now();
      markWedged("bench");
      const t1 = await until("degraded");
      times.push(t1 - t0);
      if (!handle.status().wedge.wedged || !isWedged()) throw new Error("the daemon does not see the wedge");
      await sleep(300);
      const c0 = performance.now();
      clearWedge();
      recover.push((await until("online")) - c0);
    }
  } finally {
    clearWedge();
    await handle.stop("bench done");
  }
  console.log(
    `markWedged → platform degraded (in-process daemon, ${WEDGE_RUNS} runs): median ${fmt(median(times))} ms, p95 ${fmt(pct(times, 95))} ms, max ${fmt(Math.max(...times))} ms, min ${fmt(Math.min(...times))} ms`,
  );
  console.log(
    `  clearWedge → online (after ≥ 300 ms wedged): median ${fmt(median(recover))} ms, max ${fmt(Math.max(...recover))} ms`,
  );
}

try {
  platform = await startTestPlatform();
  console.log(`node ${process.version}, ${clkTck} clock ticks/s, platform ${platform.url}`);
  await bootToFirstBeat();
  await wedgeToDegraded();
  await idle();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
