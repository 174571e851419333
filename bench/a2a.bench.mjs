// A2A figures (issue 23): the same instant echo agent behind our daemon (library mode, startRuntime
// with an echo executor; max_concurrent_tasks 256, queue_size 4096, a2a.max_connections 1024, LOG_LEVEL
// info, its log written to a file, task persistence on by default) and behind @a2a-js/sdk 0.3.14's
// express server (A2AExpressApp, DefaultRequestHandler, InMemoryTaskStore) twice: answering
// `message/send` with a message ("SDK"), and creating a task per message (task, artifact, final status:
// "SDK task"). Each server is a child process on this machine, driven by one undici load generator in
// this process: `message/send` with a fresh contextId per request at 1 / 16 / 64 connections, at 64
// with one shared contextId (ours runs a context's turns one at a time, by design), then
// `message/stream` (3 events per turn on all) at 1 / 16; A2A_SECONDS (default 3) each, A2A_REPS
// (default 3) interleaved repetitions (the servers' order alternates). CPU per request is the server
// process's utime+stime from /proc/<pid>/stat. Prints each server's median [min–max] and the ratios
// ours / SDK and ours / SDK task (the median of the per-repetition ratios). About 4 minutes.
// A2A_RUNTIME_DIST: another build of @molecule/runtime (its dist directory); A2A_LOG=sync|async|warn:
// the daemon's log through a synchronous or an asynchronous destination, or at LOG_LEVEL=warn (no
// line per turn), to measure what logging costs.
// Run: node bench/a2a.bench.mjs   (after `pnpm exec turbo run build --filter=@molecule/runtime... --filter=@molecule/testkit`)
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === "--serve") await serve(process.argv[3], process.argv[4]);
else await main();

/** The server child: `ours <configDir>` or `sdk`. Prints nothing but its URL, over IPC. */
async function serve(which, configDir) {
  if (which === "ours") {
    const dist = process.env.A2A_RUNTIME_DIST ?? fileURLToPath(new URL("../apps/runtime/dist", import.meta.url));
    const { startRuntime, createLogger } = await import(pathToFileURL(join(dist, "index.js")).href);
    // A2A_LOG=sync|async: the daemon's logger with that destination (default: the daemon's own choice)
    const mode = process.env.A2A_LOG;
    const logger = mode === "sync" || mode === "async" ? createLogger({ sync: mode === "sync" }) : undefined;
    const echo = {
      name: "echo",
      async runTurn({ text, signal }) {
        if (signal.aborted) return { outcome: "cancelled" };
        return { outcome: "ok", text: `echo: ${text}` };
      },
    };
    const handle = await startRuntime({
      executor: echo,
      configDir,
      env: process.env,
      host: "127.0.0.1",
      port: 0,
      ...(logger ? { logger } : {}),
    });
    process.send({ url: `http://127.0.0.1:${handle.port}/` });
    process.on("disconnect", () => void handle.stop("bench done").then(() => process.exit(0)));
    return;
  }
  const { default: express } = await import("express");
  const { A2AExpressApp } = await import("a2a-sdk-v03/server/express");
  const { DefaultRequestHandler, InMemoryTaskStore } = await import("a2a-sdk-v03/server");
  const card = {
    name: "echo",
    description: "echo agent",
    version: "1.0.0",
    protocolVersion: "0.3.0",
    url: "http://127.0.0.1/",
    preferredTransport: "JSONRPC",
    capabilities: { streaming: true, pushNotifications: false },
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [],
  };
  const executor = {
    async execute(ctx, bus) {
      const text = ctx.userMessage.parts.map((p) => (p.kind === "text" ? p.text : "")).join("");
      const reply = `echo: ${text}`;
      const { taskId, contextId } = ctx;
      if (which === "sdk-task" || ctx.userMessage.metadata?.events === 3) {
        // the same 3 events per turn as ours streams: the task, the reply as an artifact, the final
        // status (sdk-task: for every message, as an SDK agent that creates a task per message does)
        bus.publish({ kind: "task", id: taskId, contextId, status: { state: "working" }, history: [ctx.userMessage] });
        bus.publish({
          kind: "artifact-update",
          taskId,
          contextId,
          artifact: { artifactId: randomUUID(), parts: [{ kind: "text", text: reply }] },
        });
        bus.publish({
          kind: "status-update",
          taskId,
          contextId,
          status: { state: "completed", timestamp: new Date().toISOString() },
          final: true,
        });
      } else {
        bus.publish({
          kind: "message",
          role: "agent",
          messageId: randomUUID(),
          contextId,
          taskId,
          parts: [{ kind: "text", text: reply }],
        });
      }
      bus.finished();
    },
    async cancelTask() {},
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  const app = new A2AExpressApp(handler).setupRoutes(express());
  const server = app.listen(0, "127.0.0.1", () => process.send({ url: `http://127.0.0.1:${server.address().port}/` }));
  process.on("disconnect", () => server.close(() => process.exit(0)));
}

async function main() {
  // undici resolves from the heartbeat package (its dependency), not from the repo root
  const { Pool } = createRequire(new URL("../packages/heartbeat/package.json", import.meta.url))("undici");
  const { startTestPlatform } = await import("../packages/testkit/dist/index.js");
  const SECONDS = Number(process.env.A2A_SECONDS ?? 3);
  const REPS = Number(process.env.A2A_REPS ?? 3);
  const clkTck = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  };
  const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

  async function proc(pid) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return {
      cpuMs: ((Number(rest[11]) + Number(rest[12])) * 1000) / clkTck,
      rssKb: field("VmRSS"),
      hwmKb: field("VmHWM"),
    };
  }

  const root = await mkdtemp(join(tmpdir(), "molecule-bench-a2a-"));
  const children = [];
  let platform;
  const cleanup = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await platform?.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));

  async function startServer(which) {
    let args = [SELF, "--serve", which];
    let env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: root,
      ...(process.env.A2A_RUNTIME_DIST ? { A2A_RUNTIME_DIST: process.env.A2A_RUNTIME_DIST } : {}),
      ...(process.env.A2A_LOG ? { A2A_LOG: process.env.A2A_LOG } : {}),
    };
    let stdout = "ignore";
    let logFile;
    if (which === "ours") {
      const configs = join(root, "configs");
      await mkdir(configs, { recursive: true, mode: 0o700 });
      await writeFile(
        join(configs, "config.yaml"),
        [
          "name: echo",
          "prompt_files: []",
          "max_concurrent_tasks: 256",
          "queue_size: 4096",
          "a2a:",
          "  port: 0",
          "  max_connections: 1024",
          "heartbeat:",
          "  interval_seconds: 1",
          "",
        ].join("\n"),
      );
      args = [...args, configs];
      env = {
        ...env,
        WORKSPACE_ID: randomUUID(),
        PLATFORM_URL: platform.url,
        HOSTNAME: "localhost",
        WORKSPACE_CONFIG_PATH: configs,
        MOLECULE_STATE_DIR: join(root, "state"),
        LOG_LEVEL: process.env.A2A_LOG === "warn" ? "warn" : "info", // A2A_LOG=warn: no line per turn
      };
      logFile = await open(join(root, "ours.log"), "w");
      stdout = logFile.fd;
    }
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", stdout, "inherit", "ipc"] });
    children.push(child);
    await logFile?.close(); // the child has its own copy of the descriptor
    const { url } = await new Promise((resolve, reject) => {
      child.once("message", resolve);
      child.once("exit", (code) => reject(new Error(`${which} server exited ${code}`)));
    });
    await sleep(500);
    const boot = await proc(child.pid);
    return { which, url, pid: child.pid, boot, pool: undefined };
  }

  const body = (stream, contextId = randomUUID()) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: stream ? "message/stream" : "message/send",
      params: {
        message: {
          kind: "message",
          role: "user",
          messageId: randomUUID(),
          contextId,
          parts: [{ kind: "text", text: "hello" }],
          ...(stream ? { metadata: { events: 3 } } : {}),
        },
      },
    });

  /** `connections` workers, each one request at a time, for SECONDS; the server's CPU from /proc. */
  async function load(server, connections, stream, shared = false) {
    const context = shared ? randomUUID() : undefined; // one conversation for every request of the run
    const url = new URL(server.url);
    const pool = new Pool(url.origin, { connections, pipelining: 1 });
    const lat = [];
    const ttfe = [];
    let errors = 0;
    const headers = { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" };
    const before = await proc(server.pid);
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    const worker = async () => {
      while (performance.now() < end) {
        const s = performance.now();
        try {
          const res = await pool.request({ path: url.pathname, method: "POST", headers, body: body(stream, context) });
          if (stream) {
            let first = 0;
            let events = 0;
            for await (const chunk of res.body) {
              if (!first) first = performance.now();
              events += String(chunk).split("data:").length - 1;
            }
            ttfe.push(first - s);
            if (res.statusCode !== 200 || events < 3) errors += 1;
          } else {
            const text = await res.body.text();
            if (res.statusCode !== 200 || text.includes('"error"')) errors += 1;
          }
          lat.push(performance.now() - s);
        } catch {
          errors += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    const after = await proc(server.pid);
    await pool.close();
    lat.sort((a, b) => a - b);
    ttfe.sort((a, b) => a - b);
    return {
      rps: lat.length / elapsed,
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      ttfe: ttfe.length ? pct(ttfe, 50) : Number.NaN,
      cpuUs: ((after.cpuMs - before.cpuMs) * 1000) / Math.max(1, lat.length),
      errors,
    };
  }

  try {
    platform = await startTestPlatform({ recordLimit: 100 });
    const servers = [await startServer("ours"), await startServer("sdk"), await startServer("sdk-task")];
    const names = { ours: "ours", sdk: "SDK", "sdk-task": "SDK task" };
    console.log(
      `node ${process.version}; ${servers.map((s) => `${names[s.which]} ${s.url}`).join(", ")}; ${SECONDS} s per run, ${REPS} reps`,
    );
    for (const s of servers) await load(s, 16, false); // warm-up
    const cases = [
      ...[1, 16, 64].map((c) => ({ label: `send ${c}`, connections: c, stream: false })),
      { label: "send 64 shared", connections: 64, stream: false, shared: true },
      ...[1, 16].map((c) => ({ label: `stream ${c}`, connections: c, stream: true })),
    ];
    const results = new Map(cases.map((c) => [c.label, Object.fromEntries(servers.map((s) => [s.which, []]))]));
    for (let rep = 0; rep < REPS; rep += 1) {
      for (const c of cases) {
        const order = rep % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          results.get(c.label)[s.which].push(await load(s, c.connections, c.stream, c.shared));
        }
      }
    }
    const after = await Promise.all(servers.map((s) => proc(s.pid)));

    const fmt = (xs, digits) => {
      const m = median(xs);
      return `${m.toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
    };
    const table = [["figure", ...servers.map((s) => names[s.which]), "ours / SDK", "ours / SDK task"]];
    /** `byServer`: one array of figures per server (in `servers` order), one figure per repetition. */
    const add = (label, byServer, digits) => {
      const ratio = (other) => median(byServer[0].map((o, i) => o / byServer[other][i])).toFixed(2);
      table.push([label, ...byServer.map((xs) => fmt(xs, digits)), ratio(1), ratio(2)]);
    };
    for (const c of cases) {
      const r = results.get(c.label);
      const pick = (k) => servers.map((s) => r[s.which].map((x) => x[k]));
      const name = c.stream
        ? `message/stream, ${c.connections} conn`
        : `message/send, ${c.connections} conn${c.shared ? ", one shared context" : ""}`;
      add(`${name}: ${c.stream ? "streams" : "requests"}/s`, pick("rps"), 0);
      add(`${name}: p50 ms`, pick("p50"), 2);
      add(`${name}: p99 ms`, pick("p99"), 2);
      if (c.stream) add(`${name}: time to first event, ms (p50)`, pick("ttfe"), 2);
      add(`${name}: CPU µs per ${c.stream ? "stream" : "request"}`, pick("cpuUs"), 0);
      const errs = servers.map((s) => r[s.which].reduce((n, x) => n + x.errors, 0));
      if (errs.some((n) => n > 0)) table.push([`${name}: errors`, ...errs.map(String), "", ""]);
    }
    const mb = (k) => (k / 1024).toFixed(1);
    const memRow = (label, kb) =>
      table.push([label, ...kb.map(mb), (kb[0] / kb[1]).toFixed(2), (kb[0] / kb[2]).toFixed(2)]);
    memRow(
      "RSS at boot, MB",
      servers.map((s) => s.boot.rssKb),
    );
    memRow(
      "boot peak (VmHWM at boot), MB",
      servers.map((s) => s.boot.hwmKb),
    );
    table.push(["boot peak over RSS at boot, MB", ...servers.map((s) => mb(s.boot.hwmKb - s.boot.rssKb)), "", ""]);
    memRow(
      "RSS after the load, MB",
      after.map((a) => a.rssKb),
    );
    const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
    const line = (r) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
    console.log("median [min–max] over the repetitions; the ratio is the median of the per-repetition ratios");
    console.log(line(table[0]));
    console.log(line(widths.map((w) => "-".repeat(w))));
    for (const r of table.slice(1)) console.log(line(r));
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}
