// Agent turn figures (issue 19): per built-in agent (claude-code, codex, gemini-cli), one turn of the
// pinned real CLI run alone vs the same turn through the built daemon, offline against the agent's
// testkit fake of its model API. CLI alone: the executor's first-turn command line (flags, env, home,
// base URL wiring) spawned directly, like the runner does (own process group, message on stdin).
// Through the daemon: `node apps/runtime/dist/bin.js` as a child (config dir, state dir, HOME,
// workspace dir, a testkit platform in this process), `message/send` on a fresh contextId per turn.
// Wall time per turn (median, min, max) from spawn / HTTP request to exit / reply, the daemon
// process's own VmRSS (sampled every 50 ms; not its children) idle before the turns and at its peak
// during them, and the agent's process-group RSS peak either way. One warm-up turn per mode is not
// counted; the two modes alternate turn by turn. BENCH_TURNS (5) turns each; BENCH_AGENTS (a comma
// list of ids) runs some of them. Codex and Gemini CLI are installed into the cache on first use.
// Run: node bench/run.mjs agents   (after `pnpm --filter @molecule/runtime... build`)
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { agentHomeDir, getAgent } from "../packages/auth/dist/index.js";
import {
  installAgentCli,
  startFakeGeminiApi,
  startFakeModelApi,
  startFakeOpenAiResponses,
  startTestPlatform,
} from "../packages/testkit/dist/index.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "apps/runtime/dist/bin.js");
const REPO_BIN = join(REPO, "node_modules/.bin");
const TURNS = Number(process.env.BENCH_TURNS ?? 5);
const ONLY = process.env.BENCH_AGENTS?.split(",").map((s) => s.trim());
const TIMEOUT_S = 120;
const SAMPLE_MS = 50;
const PAGE_KB = 4; // /proc/<pid>/stat rss is in pages
const REPLY = "Hello from the fake model API, via the agents bench.";
const PROMPT = "Say hello.";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
if (!(Number.isInteger(TURNS) && TURNS >= 1)) {
  console.error("BENCH_TURNS must be a whole number of turns, at least 1");
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const ms = (n) => n.toFixed(0);
const mb = (kb) => (kb / 1024).toFixed(1);
const spread = (xs, f = ms) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

// Everything to clean up, whatever happens.
const tempDirs = new Set();
const children = new Set();
const groups = new Set();
const closers = [];
async function cleanup() {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const close of closers.splice(0)) await close().catch(() => undefined);
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  tempDirs.clear();
}
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone
  }
}

// ---- /proc ------------------------------------------------------------------------------------

/** Every live process: pid, ppid, pgrp, rss (kB), from /proc/<pid>/stat. */
function processes() {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(entry), ppid: Number(rest[1]), pgrp: Number(rest[2]), rssKb: Number(rest[21]) * PAGE_KB });
    } catch {
      // gone
    }
  }
  return out;
}
const vmRssKb = (pid) => {
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
};
const cmdline = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return undefined;
  }
};

/**
 * Samples every 50 ms until stopped: the daemon's own VmRSS (when `daemonPid`), and the summed RSS of
 * the agent's process group (`pgid`, or the groups led by the daemon's children). Keeps the first
 * group leader's command line.
 */
function sampler({ daemonPid, pgid }) {
  const s = { daemonPeakKb: 0, groupPeakKb: 0, leaderArgv: undefined };
  const tick = () => {
    if (daemonPid) s.daemonPeakKb = Math.max(s.daemonPeakKb, vmRssKb(daemonPid) || 0);
    const all = processes();
    const leaders = pgid ? [pgid] : all.filter((p) => p.ppid === daemonPid && p.pgrp === p.pid).map((p) => p.pid);
    const sum = all.filter((p) => leaders.includes(p.pgrp)).reduce((n, p) => n + p.rssKb, 0);
    s.groupPeakKb = Math.max(s.groupPeakKb, sum);
    const argv = leaders.length ? cmdline(leaders[0]) : undefined;
    if (argv?.length) s.leaderArgv = argv; // the last seen: the leader as it runs
  };
  tick();
  const timer = setInterval(tick, SAMPLE_MS);
  s.stop = () => {
    clearInterval(timer);
    tick();
    return s;
  };
  return s;
}

// ---- the agents -------------------------------------------------------------------------------

const OFFLINE_CLAUDE_ENV = {
  DISABLE_TELEMETRY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
};

/** A TOML basic string, as codex.ts spells `-c key=value`. */
const toml = (text) => JSON.stringify(text).replace(/\u007f/g, "\\u007F");

/**
 * Per agent: its fake, its key variable, and the executor's first-turn command line and env
 * (apps/runtime/src/executors/{claude-code,codex,gemini-cli}.ts) for a given base env and state dir.
 */
const AGENTS = [
  {
    id: "claude-code",
    keyEnv: "ANTHROPIC_API_KEY",
    bin: async () => join(REPO_BIN, "claude"),
    startFake: () => startFakeModelApi({ reply: REPLY }),
    ok: (fake) => fake.messages().length,
    async firstTurn({ env, baseUrl }) {
      const perRequestMs = Math.max(10_000, Math.floor((TIMEOUT_S * 1000) / 3));
      return {
        args: ["-p", "--output-format", "stream-json", "--verbose"],
        env: {
          ...env,
          ANTHROPIC_BASE_URL: baseUrl,
          CLAUDE_CODE_MAX_RETRIES: "2",
          API_TIMEOUT_MS: String(perRequestMs),
          DISABLE_AUTOUPDATER: "1",
        },
      };
    },
  },
  {
    id: "codex",
    keyEnv: "CODEX_API_KEY",
    bin: () => pinnedBin("codex"),
    startFake: () => startFakeOpenAiResponses({ reply: REPLY }),
    ok: (fake) => fake.responses().length,
    async firstTurn({ env, baseUrl, stateDir, home }) {
      const at = "model_providers.molecule";
      const codexHome = agentHomeDir("codex", { env, stateDir, home });
      const tmp = join(stateDir, "tmp", "codex");
      for (const dir of [codexHome, tmp]) await mkdir(dir, { recursive: true, mode: 0o700 });
      const c = (key, value) => ["-c", `${key}=${toml(value)}`];
      return {
        args: [
          ...["exec", "--json", "--skip-git-repo-check", "--disable", "unbounded_connection_retries"],
          ...c("model_provider", "molecule"),
          ...c(`${at}.name`, "molecule"),
          ...c(`${at}.base_url`, baseUrl),
          ...c(`${at}.wire_api`, "responses"),
          ...c(`${at}.env_key`, "CODEX_API_KEY"),
          ...["-c", `${at}.request_max_retries=1`, "-c", `${at}.stream_max_retries=2`],
          "-",
        ],
        env: { ...env, CODEX_HOME: codexHome, TMPDIR: tmp },
      };
    },
  },
  {
    id: "gemini-cli",
    keyEnv: "GEMINI_API_KEY",
    // as the image's env has it (the daemon's preflight `gemini --version` runs as one process too)
    env: { GEMINI_CLI_NO_RELAUNCH: "true" },
    bin: () => pinnedBin("gemini-cli"),
    startFake: () => startFakeGeminiApi({ reply: REPLY }),
    // stream-json: the answer comes in `delta` messages
    answer: (stdout) =>
      stdout
        .split("\n")
        .filter((l) => l.includes('"assistant"'))
        .map((l) => JSON.parse(l).content ?? "")
        .join(""),
    ok: (fake) => fake.generations().length,
    async firstTurn({ env, baseUrl, stateDir, home }) {
      const geminiHome = agentHomeDir("gemini-cli", { env, stateDir, home });
      const tmp = join(stateDir, "tmp", "gemini-cli");
      for (const dir of [join(geminiHome, ".gemini"), tmp]) await mkdir(dir, { recursive: true, mode: 0o700 });
      const settings = { general: { maxAttempts: 2 }, security: { auth: { selectedType: "gemini-api-key" } } };
      await writeFile(join(geminiHome, ".gemini", "settings.json"), `${JSON.stringify(settings, null, 2)}\n`, {
        mode: 0o600,
      });
      return {
        args: ["--skip-trust", "-o", "stream-json", "--session-id", randomUUID()],
        env: {
          ...env,
          GEMINI_CLI_HOME: geminiHome,
          TMPDIR: tmp,
          GEMINI_CLI_NO_RELAUNCH: "true",
          GOOGLE_GEMINI_BASE_URL: baseUrl,
        },
      };
    },
  },
];

/** The registry's pinned CLI (npmPackage@testedVersion), installed into the cache on first use. */
async function pinnedBin(id) {
  const agent = getAgent(id);
  const started = performance.now();
  const result = await installAgentCli({ package: agent.npmPackage, version: agent.testedVersion, bin: agent.binary });
  if (result.installed)
    console.log(`  installed ${agent.npmPackage}@${agent.testedVersion} in ${ms(performance.now() - started)} ms`);
  return result.bin;
}

// ---- one turn, each way -----------------------------------------------------------------------

/** The CLI alone: spawned as the runner spawns it (own process group, message on stdin, then closed). */
async function cliTurn(agent, bin, turn, cwd) {
  const t0 = performance.now();
  const child = spawn(bin, turn.args, { cwd, env: turn.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  groups.add(child.pid);
  const s = sampler({ pgid: child.pid });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  child.stdin.on("error", () => undefined);
  child.stdin.end(PROMPT);
  // The runner kills what is left of the group when the leader exits, and settles on close.
  child.once("exit", () => killGroup(child.pid, "SIGKILL"));
  const code = await new Promise((resolve) => child.once("close", resolve));
  const wallMs = performance.now() - t0;
  const sampled = s.stop();
  children.delete(child);
  groups.delete(child.pid);
  if (code !== 0 || !(agent.answer?.(stdout) ?? stdout).includes(REPLY)) {
    throw new Error(`the CLI alone failed (exit ${code}):\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
  }
  return { wallMs, groupPeakKb: sampled.groupPeakKb };
}

/** Through the daemon: one `message/send` on a fresh contextId, request → reply. */
async function daemonTurn(daemon) {
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: randomUUID(),
    method: "message/send",
    params: {
      message: {
        kind: "message",
        role: "user",
        messageId: randomUUID(),
        contextId: randomUUID(),
        parts: [{ kind: "text", text: PROMPT }],
      },
    },
  });
  const beforeKb = vmRssKb(daemon.child.pid);
  const logged = daemon.turnMs.length;
  const s = sampler({ daemonPid: daemon.child.pid });
  const t0 = performance.now();
  const res = await fetch(daemon.url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await res.text();
  const wallMs = performance.now() - t0;
  const sampled = s.stop();
  const reply = JSON.parse(text)
    .result?.parts?.map((p) => p.text ?? "")
    .join("");
  if (res.status !== 200 || reply !== REPLY) {
    throw new Error(
      `the turn through the daemon failed: HTTP ${res.status} ${text.slice(0, 2000)}\n${daemon.output()}`,
    );
  }
  for (let i = 0; i < 50 && daemon.turnMs.length === logged; i += 1) await sleep(10);
  return { wallMs, beforeKb, executorMs: daemon.turnMs[logged], ...sampled };
}

// ---- the daemon -------------------------------------------------------------------------------

async function startDaemon(platform, agent, bin, fake, dirs) {
  const { configs, state, home, work } = dirs;
  const config = {
    name: "bench",
    runtime: agent.id,
    runtime_config: { command: bin, base_url: fake.url, timeout: TIMEOUT_S },
    prompt_files: [],
    a2a: { port: 0 },
  };
  await writeFile(join(configs, "config.yaml"), `${JSON.stringify(config, null, 2)}\n`);
  const env = {
    ...dirs.env,
    WORKSPACE_ID: randomUUID(),
    PLATFORM_URL: platform.url,
    WORKSPACE_CONFIG_PATH: configs,
    MOLECULE_STATE_DIR: state,
    HOSTNAME: "localhost",
    LOG_LEVEL: "info",
  };
  const child = spawn(process.execPath, [BIN, "--workspace-dir", work, "--host", "127.0.0.1"], {
    cwd: home,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let tail = "";
  let port;
  let ready = false;
  let pending = "";
  const seen = [];
  const turnMs = []; // the executor's time per turn, from the daemon's `turn.finished` lines
  const wake = () => {
    for (const f of seen.splice(0)) f();
  };
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    tail = (tail + chunk).slice(-4_000);
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.includes('"a2a.listening"')) port = JSON.parse(line).port;
      if (line.includes('"runtime.ready"')) ready = true;
      if (line.includes('"turn.finished"')) turnMs.push(JSON.parse(line).ms);
    }
    wake();
  });
  child.stderr.setEncoding("utf8").on("data", (d) => (tail = (tail + d).slice(-4_000)));
  child.once("exit", wake);
  const deadline = Date.now() + 60_000;
  while (!(ready && port)) {
    if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode}:\n${tail}`);
    if (Date.now() > deadline) throw new Error(`the daemon was not ready within 60 s:\n${tail}`);
    await new Promise((resolve) => {
      seen.push(resolve);
      setTimeout(resolve, 500);
    });
  }
  return { child, url: `http://127.0.0.1:${port}/`, output: () => tail, turnMs };
}

async function stopDaemon(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

// ---- per agent --------------------------------------------------------------------------------

async function dirsFor(root, name, agent) {
  const base = join(root, name);
  const dirs = {
    configs: join(base, "configs"),
    state: join(base, "state"),
    home: join(base, "home"),
    work: join(base, "work"),
  };
  for (const dir of [dirs.configs, dirs.home, dirs.work]) await mkdir(dir, { recursive: true, mode: 0o700 });
  dirs.env = {
    PATH: [REPO_BIN, process.env.PATH ?? "/usr/bin:/bin"].join(":"),
    HOME: dirs.home,
    ...OFFLINE_CLAUDE_ENV,
    ...agent.env,
    [agent.keyEnv]: "bench-dummy-key",
  };
  return dirs;
}

async function benchAgent(platform, agent) {
  const bin = await agent.bin();
  const fake = await agent.startFake();
  closers.push(() => fake.close());
  const root = await realpath(await mkdtemp(join(tmpdir(), `molecule-bench-agents-${agent.id}-`)));
  tempDirs.add(root);
  const cliDirs = await dirsFor(root, "cli", agent);
  const daemonDirs = await dirsFor(root, "daemon", agent);
  const nextCliTurn = () =>
    agent.firstTurn({ env: cliDirs.env, baseUrl: fake.url, stateDir: cliDirs.state, home: cliDirs.home });
  const runCli = async () => cliTurn(agent, bin, await nextCliTurn(), cliDirs.work);

  const daemon = await startDaemon(platform, agent, bin, fake, daemonDirs);
  await sleep(1_000);
  const idleKb = vmRssKb(daemon.child.pid);
  const cli = [];
  const through = [];
  try {
    const warm = { cli: await runCli(), daemon: await daemonTurn(daemon) };
    for (let i = 0; i < TURNS; i += 1) {
      if (i % 2 === 0) {
        cli.push(await runCli());
        through.push(await daemonTurn(daemon));
      } else {
        through.push(await daemonTurn(daemon));
        cli.push(await runCli());
      }
    }
    const afterKb = vmRssKb(daemon.child.pid);
    // The daemon's agent ran the same command line as the CLI-alone runs (a new session's uuid aside).
    // argv as /proc shows it: the executable (or `node <script>`), then exactly these arguments.
    const norm = (argv) => argv.join(" ").replace(UUID, "<uuid>");
    const args = (await nextCliTurn()).args;
    const same = (argv) =>
      argv !== undefined && argv.length - args.length <= 2 && norm(argv.slice(-args.length)) === norm(args);
    const sameArgv = through.every((t) => same(t.leaderArgv));
    const seenArgv = through.map((t) => t.leaderArgv?.join(" ")).find((a) => a);
    return { agent, cli, through, warm, idleKb, afterKb, sameArgv, seenArgv, requests: agent.ok(fake) };
  } finally {
    await stopDaemon(daemon.child);
  }
}

// ---- main -------------------------------------------------------------------------------------

try {
  const platform = await startTestPlatform();
  closers.push(() => platform.close());
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`node ${process.version}; load average ${load}; ${TURNS} turns per mode after 1 warm-up, alternating`);
  const results = [];
  for (const agent of AGENTS.filter((a) => !ONLY || ONLY.includes(a.id))) {
    console.log(`${agent.id} …`);
    const r = await benchAgent(platform, agent);
    results.push(r);
    const c = r.cli.map((t) => t.wallMs);
    const d = r.through.map((t) => t.wallMs);
    console.log(`  CLI alone, ms:      ${c.map(ms).join(", ")} (warm-up ${ms(r.warm.cli.wallMs)})`);
    console.log(`  through daemon, ms: ${d.map(ms).join(", ")} (warm-up ${ms(r.warm.daemon.wallMs)})`);
    const outside = r.through.map((t) => t.wallMs - t.executorMs);
    console.log(
      `  of which outside the executor (request → reply minus turn.finished ms): ${spread(outside, (x) => x.toFixed(1))} ms`,
    );
    console.log(
      `  daemon VmRSS: idle ${mb(r.idleKb)} MB, warm-up turn peak ${mb(r.warm.daemon.daemonPeakKb)} MB, per-turn peak − before (median) ${mb(median(r.through.map((t) => t.daemonPeakKb - t.beforeKb)))} MB, after the turns ${mb(r.afterKb)} MB`,
    );
    console.log(
      `  agent process group peak RSS: alone ${spread(
        r.cli.map((t) => t.groupPeakKb),
        mb,
      )} MB, under the daemon ${spread(
        r.through.map((t) => t.groupPeakKb),
        mb,
      )} MB`,
    );
    console.log(
      `  the daemon's agent command line ${r.sameArgv ? "matches" : "DIFFERS from"} the CLI-alone one${r.sameArgv ? "" : `: ${r.seenArgv}`}; ${r.requests} model API requests in all`,
    );
  }
  const table = [["agent", "CLI alone ms", "through daemon ms", "overhead ms (paired)", "daemon RSS idle → peak MB"]];
  for (const r of results) {
    const c = r.cli.map((t) => t.wallMs);
    const d = r.through.map((t) => t.wallMs);
    const paired = median(d.map((x, i) => x - c[i]));
    const peak = Math.max(r.warm.daemon.daemonPeakKb, ...r.through.map((t) => t.daemonPeakKb));
    table.push([
      r.agent.id,
      spread(c),
      spread(d),
      `${ms(median(d) - median(c))} (${ms(paired)})`,
      `${mb(r.idleKb)} → ${mb(peak)} (+${mb(peak - r.idleKb)})`,
    ]);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  console.log(
    "\nmedian (min–max); overhead = median through the daemon − median alone (median of the paired differences)",
  );
  console.log(line(table[0]));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of table.slice(1)) console.log(line(row));
  console.log(`load average at the end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
