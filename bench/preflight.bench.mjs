// `molecule preflight` whole-process wall time on examples/workspace (median of repeated runs),
// with the agent checks (binary + `claude --version` + auth gate) and without them (`--no-agent`),
// beside the raw `claude --version` and a bare `node` start for comparison.
// Needs the CLI built: `pnpm exec turbo run build --filter=@molecule/cli...`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "apps/cli/dist/bin.js");
const example = join(root, "examples/workspace");
const claude = join(root, "node_modules/.bin/claude");
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

const home = mkdtempSync(join(tmpdir(), "molecule-bench-"));
const env = {
  HOME: home,
  PATH: `${join(root, "node_modules/.bin")}:/usr/bin:/bin`,
  WORKSPACE_ID: "3f2c1b7e-9a4d-4c2e-8f1a-0b6d5e7c9a21",
  PLATFORM_URL: "http://localhost:8080",
  DISABLE_TELEMETRY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
};

function time(label, command, args, expectCode = 0) {
  const samples = [];
  for (let i = 0; i < RUNS + 1; i += 1) {
    const start = process.hrtime.bigint();
    const r = spawnSync(command, args, { env, cwd: home, encoding: "utf8", timeout: 20_000 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== expectCode) {
      console.error(`${label}: exit ${r.status}\n${r.stdout}${r.stderr}`);
      process.exit(1);
    }
    if (i > 0) samples.push(ms); // the first run warms the disk cache
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  const p90 = samples[Math.floor(samples.length * 0.9)];
  console.log(`${label.padEnd(58)} median ${median.toFixed(1).padStart(6)} ms   p90 ${p90.toFixed(1).padStart(6)} ms`);
  return median;
}

try {
  console.log(`${RUNS} runs each (after one warm-up), node ${process.version}`);
  const node = time("node -e '' (bare Node start)", process.execPath, ["-e", ""]);
  const version = time("claude --version (raw)", claude, ["--version"]);
  const withAgent = time("molecule preflight --no-auth (agent checks included)", process.execPath, [
    bin,
    "preflight",
    "--config",
    example,
    "--no-auth",
  ]);
  const noAgent = time("molecule preflight --no-agent (agent checks excluded)", process.execPath, [
    bin,
    "preflight",
    "--config",
    example,
    "--no-agent",
  ]);
  time("molecule --help (CLI start, no packages loaded)", process.execPath, [bin, "--help"]);
  console.log(`included minus raw claude --version: ${(withAgent - version).toFixed(1)} ms (target < 150 ms)`);
  console.log(`excluded: ${noAgent.toFixed(1)} ms (target < 150 ms); of which bare Node start ${node.toFixed(1)} ms`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
