// Task records figures (issue 22): what `a2a.persist_tasks` costs a turn, and the records file after
// 10,000 tasks. Two daemons in this process (library mode: startRuntime with an instant echo
// executor, the default context, registered with a testkit platform), one with `a2a.persist_tasks:
// true` (the default), one with false; `message/send` one at a time, TASKS_TURNS (200) per mode after
// 20 warm-up turns each, in alternating blocks of 50. ms per turn: the median request → reply time.
// Bytes per turn: this process's write(2) bytes (/proc/self/io `wchar`) over a block, per turn, on
// minus off (both daemons write the same logs and sockets; the difference is the records file,
// compactions included); the records file's own line size is printed beside it. Then 10,000 more
// tasks on each daemon (16 contexts at once; the bytes per turn again: a task evicted before its
// batch is flushed is never written), a clean stop of the persisting one, the file's size and lines,
// and a restart's load time (its `tasks.loaded` line: read, restore, rewrite). About a minute.
// Run: node bench/tasks.bench.mjs   (after `pnpm exec turbo run build --filter=@molecule/runtime... --filter=@molecule/testkit`)
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startRuntime } from "../apps/runtime/dist/index.js";
import { startTestPlatform } from "../packages/testkit/dist/index.js";

const TURNS = Number(process.env.TASKS_TURNS ?? 200);
const BLOCK = 50;
const WARMUP = 20;
const MANY = Number(process.env.TASKS_MANY ?? 10_000);
const pino = createRequire(new URL("../apps/runtime/package.json", import.meta.url))("pino");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const wchar = async () => Number(/^wchar:\s+(\d+)/m.exec(await readFile("/proc/self/io", "utf8"))?.[1] ?? Number.NaN);

const root = await mkdtemp(join(tmpdir(), "molecule-bench-tasks-"));
const handles = [];
let platform;
async function cleanup() {
  for (const h of handles) await h.stop("bench done").catch(() => undefined);
  await platform?.close().catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));

/** A logger that prints nothing and keeps the lines whose event is wanted. */
function quietLogger(events) {
  const kept = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) {
        if (line === "") continue;
        const obj = JSON.parse(line);
        if (events.includes(obj.event)) kept.push(obj);
      }
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), kept };
}

const echo = {
  name: "echo",
  async runTurn({ text, signal }) {
    if (signal.aborted) return { outcome: "cancelled" };
    return { outcome: "ok", text: `echo: ${text}` };
  },
};

async function daemon(name, persist, id = randomUUID()) {
  const configs = join(root, name, "configs");
  const state = join(root, name, "state");
  await mkdir(configs, { recursive: true, mode: 0o700 });
  await writeFile(
    join(configs, "config.yaml"),
    [
      "name: echo",
      "prompt_files: []",
      "max_concurrent_tasks: 16",
      "queue_size: 64",
      "a2a:",
      "  port: 0",
      `  persist_tasks: ${persist}`,
      "",
    ].join("\n"),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: root,
    WORKSPACE_ID: id,
    PLATFORM_URL: platform.url,
    HOSTNAME: "localhost",
    WORKSPACE_CONFIG_PATH: configs,
    MOLECULE_STATE_DIR: state,
  };
  const log = quietLogger(["tasks.loaded", "state.write_failed", "tasks.file_corrupt"]);
  const handle = await startRuntime({
    executor: echo,
    configDir: configs,
    env,
    host: "127.0.0.1",
    port: 0,
    logger: log.logger,
  });
  handles.push(handle);
  return { name, id, handle, state, log, url: `http://127.0.0.1:${handle.port}/` };
}

async function send(d, contextId) {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "message/send",
    params: {
      message: {
        kind: "message",
        role: "user",
        messageId: randomUUID(),
        ...(contextId ? { contextId } : {}),
        parts: [{ kind: "text", text: "hello" }],
      },
    },
  });
  const t0 = performance.now();
  const res = await fetch(d.url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const json = await res.json();
  const ms = performance.now() - t0;
  if (json.error) throw new Error(`${d.name}: ${JSON.stringify(json.error)}`);
  return ms;
}

try {
  platform = await startTestPlatform();
  const on = await daemon("on", true);
  const off = await daemon("off", false);
  console.log(`node ${process.version}; state dirs under ${tmpdir()}; ${TURNS} turns per mode in blocks of ${BLOCK}`);
  for (const d of [on, off]) for (let i = 0; i < WARMUP; i++) await send(d);
  const figures = { on: { ms: [], bytes: 0, turns: 0 }, off: { ms: [], bytes: 0, turns: 0 } };
  for (let block = 0; block < (2 * TURNS) / BLOCK; block++) {
    const d = block % 2 === 0 ? on : off;
    await sleep(50); // the previous block's last flush lands in its own block
    const w0 = await wchar();
    for (let i = 0; i < BLOCK; i++) figures[d.name].ms.push(await send(d));
    await sleep(50);
    figures[d.name].bytes += (await wchar()) - w0;
    figures[d.name].turns += BLOCK;
  }
  const file = join(on.state, "tasks.jsonl");
  const lines = (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
  const lineBytes = median(lines.map((l) => Buffer.byteLength(l) + 1));
  const perTurn = (m) => figures[m].bytes / figures[m].turns;
  console.log("\n| persist_tasks | turns | ms/turn (median) | p90 ms | process write bytes/turn |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const m of ["on", "off"]) {
    const s = [...figures[m].ms].sort((a, b) => a - b);
    const p90 = s[Math.ceil(0.9 * s.length) - 1];
    console.log(
      `| ${m === "on" ? "true" : "false"} | ${figures[m].turns} | ${median(s).toFixed(3)} | ${p90.toFixed(3)} | ${perTurn(m).toFixed(0)} |`,
    );
  }
  console.log(
    `\npersistence costs ${(median(figures.on.ms) - median(figures.off.ms)).toFixed(3)} ms per turn (median on − off) and ` +
      `${(perTurn("on") - perTurn("off")).toFixed(0)} bytes written per turn (on − off); one record line is ${lineBytes} bytes`,
  );

  // 10,000 tasks on each daemon, 16 contexts at once: the steady state, compactions included.
  async function drive(d) {
    const t0 = performance.now();
    const w0 = await wchar();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        while (next < MANY) {
          next += 1;
          await send(d, `ctx-${w}`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await sleep(50);
    return { seconds, bytes: ((await wchar()) - w0) / MANY };
  }
  const manyOff = await drive(off);
  const manyOn = await drive(on);
  const driveS = manyOn.seconds;
  const steady = manyOn.bytes - manyOff.bytes;
  await on.handle.stop("bench: restart");
  handles.splice(handles.indexOf(on.handle), 1);
  const size = (await stat(file)).size;
  const count = (await readFile(file, "utf8")).split("\n").filter((l) => l !== "").length;
  const again = await daemon("on", true, on.id);
  const loaded = again.log.kept.find((l) => l.event === "tasks.loaded");
  console.log(`\n| after ${MANY.toLocaleString("en")} more tasks (${driveS.toFixed(1)} s) | |`);
  console.log("| --- | --- |");
  console.log(`| tasks.jsonl size | ${(size / 1024).toFixed(1)} KiB (${size} bytes) |`);
  console.log(`| tasks.jsonl lines | ${count} |`);
  console.log(`| tasks remembered at the restart | ${loaded?.tasks ?? "?"} |`);
  console.log(`| load at boot (read, restore, rewrite) | ${loaded?.ms ?? "?"} ms |`);
  console.log(`| the same on the off daemon | ${manyOff.seconds.toFixed(1)} s |`);
  console.log(`| bytes written per turn over them, compactions included (wchar on − off) | ${steady.toFixed(0)} |`);
  const problems = [on, off, again].flatMap((d) => d.log.kept.filter((l) => l.event !== "tasks.loaded"));
  if (problems.length > 0) console.log(`warnings: ${JSON.stringify(problems)}`);
} finally {
  await cleanup();
}
