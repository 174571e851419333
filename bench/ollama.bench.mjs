// runtime: ollama figures (issue 20): the daemon's added latency per turn. The same chat turn to the
// testkit's fake OpenAI-compatible endpoint, (a) posted directly (undici, streamed, the request the
// executor sends: the system prompt, the context's history and the message) and (b) sent through the
// built daemon (`node apps/runtime/dist/bin.js`, runtime: ollama, `message/send`), alternating turn by
// turn in the same run. Each turn is on a fresh contextId (no history) so both send the same request.
// Wall time request → full answer; BENCH_TURNS (50) counted turns each, after 3 warm-ups each.
// Loopback only. Run: node bench/run.mjs ollama   (after `pnpm --filter @molecule/runtime... build`)
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeChatCompletions, startTestPlatform } from "../packages/testkit/dist/index.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(REPO, "apps/runtime/dist/bin.js");
// The runtime's own undici: the direct request goes through the same client the executor uses.
const { request } = createRequire(join(REPO, "apps/runtime/package.json"))("undici");
const TURNS = Number(process.env.BENCH_TURNS ?? 50);
const WARMUP = 3;
const MODEL = "llama-fake";
const REPLY = "Hello from the fake chat endpoint, via the ollama bench.";
const PROMPT = "Say hello.";
if (!(Number.isInteger(TURNS) && TURNS >= 1)) {
  console.error("BENCH_TURNS must be a whole number of turns, at least 1");
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const f1 = (n) => n.toFixed(1);
const spread = (xs) => `${f1(median(xs))} ms (min ${f1(Math.min(...xs))}, max ${f1(Math.max(...xs))})`;

const closers = [];
let child;
async function cleanup() {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
}
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

/** (a) The executor's request, posted directly: streamed, read to the end. */
async function directTurn(url) {
  const t0 = performance.now();
  const res = await request(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const text = await res.body.text();
  const ms = performance.now() - t0;
  if (res.statusCode !== 200 || !text.includes("[DONE]")) throw new Error(`direct turn failed: ${res.statusCode}`);
  return ms;
}

/** (b) Through the daemon: one `message/send` on a fresh contextId, request → reply. */
async function daemonTurn(daemonUrl) {
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
  const t0 = performance.now();
  const res = await fetch(daemonUrl, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await res.text();
  const ms = performance.now() - t0;
  const reply = JSON.parse(text)
    .result?.parts?.map((p) => p.text ?? "")
    .join("");
  if (res.status !== 200 || reply !== REPLY)
    throw new Error(`daemon turn failed: HTTP ${res.status} ${text.slice(0, 500)}`);
  return ms;
}

async function startDaemon(platform, fakeUrl) {
  const root = await realpath(await mkdtemp(join(tmpdir(), "molecule-bench-ollama-")));
  closers.push(() => rm(root, { recursive: true, force: true }));
  const [configs, state, home, work] = ["configs", "state", "home", "work"].map((d) => join(root, d));
  await Promise.all([configs, home, work].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const config = {
    name: "bench",
    runtime: "ollama",
    runtime_config: { base_url: fakeUrl, model: MODEL, timeout: 60 },
    prompt_files: [],
    a2a: { port: 0 },
  };
  await writeFile(join(configs, "config.yaml"), `${JSON.stringify(config, null, 2)}\n`);
  child = spawn(process.execPath, [BIN, "--workspace-dir", work], {
    cwd: home,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      WORKSPACE_ID: randomUUID(),
      PLATFORM_URL: platform.url,
      WORKSPACE_CONFIG_PATH: configs,
      MOLECULE_STATE_DIR: state,
      HOSTNAME: "localhost",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  let pending = "";
  let port;
  let ready = false;
  // The daemon's default log level: its per-turn log lines are part of what a turn costs.
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    tail = (tail + chunk).slice(-4_000);
    pending += chunk;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.includes('"a2a.listening"')) port = JSON.parse(line).port;
      if (line.includes('"runtime.ready"')) ready = true;
    }
  });
  child.stderr.setEncoding("utf8").on("data", (d) => (tail = (tail + d).slice(-4_000)));
  const deadline = Date.now() + 60_000;
  while (!(ready && port)) {
    if (child.exitCode !== null) throw new Error(`the daemon exited ${child.exitCode}:\n${tail}`);
    if (Date.now() > deadline) throw new Error(`the daemon was not ready within 60 s:\n${tail}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return `http://127.0.0.1:${port}/`;
}

try {
  const platform = await startTestPlatform();
  closers.push(() => platform.close());
  const fake = await startFakeChatCompletions({ reply: REPLY, models: [MODEL] });
  closers.push(() => fake.close());
  const daemonUrl = await startDaemon(platform, fake.url);
  for (let i = 0; i < WARMUP; i += 1) {
    await directTurn(fake.url);
    await daemonTurn(daemonUrl);
  }
  const direct = [];
  const daemon = [];
  for (let i = 0; i < TURNS; i += 1) {
    direct.push(await directTurn(fake.url));
    daemon.push(await daemonTurn(daemonUrl));
  }
  const added = median(daemon) - median(direct);
  console.log(
    `runtime: ollama, ${TURNS} turns each, alternating, fake chat endpoint on loopback (node ${process.version})`,
  );
  console.log(`  direct request to the fake:   ${spread(direct)}`);
  console.log(`  through the daemon (A2A):     ${spread(daemon)}`);
  console.log(`  daemon's added latency/turn:  ${f1(added)} ms (median minus median)`);
} finally {
  await cleanup();
}
