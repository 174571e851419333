// resolveResume for a found id with 1,000 other session files in the project dir.
// Run: node --expose-gc bench/session.bench.mjs  (after building packages/session)
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createSessionStore, encodeProjectDir, planResume, resolveResume } from "../packages/session/dist/index.js";

const OTHERS = 1_000;
const RUNS = 3_000;
const WARMUP = 200;
const LINE = `${JSON.stringify({ type: "user", message: { role: "user", content: "hi" } })}\n`;

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1] };
}

function fmt(ms) {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`;
}

async function measure(label, fn, runs = RUNS) {
  for (let i = 0; i < WARMUP; i += 1) await fn();
  globalThis.gc?.();
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  const s = stats(samples);
  console.log(
    `${label}: median ${fmt(s.median)}, p95 ${fmt(s.p95)}, p99 ${fmt(s.p99)}, max ${fmt(s.max)} (${runs} runs)`,
  );
}

const root = await realpath(await mkdtemp(join(tmpdir(), "molecule-session-bench-")));
try {
  const claudeDir = join(root, "claude");
  const cwd = join(root, "workspace", "repo");
  await mkdir(cwd, { recursive: true });
  const projectDir = join(claudeDir, "projects", await encodeProjectDir(cwd));
  await mkdir(projectDir, { recursive: true });
  for (let i = 0; i < OTHERS; i += 1) await writeFile(join(projectDir, `${randomUUID()}.jsonl`), LINE.repeat(20));
  const id = randomUUID();
  await writeFile(join(projectDir, `${id}.jsonl`), LINE.repeat(20));
  const options = { agent: "claude-code", cwd, claudeDir, searchDirs: [] };

  const check = await resolveResume(id, options);
  if (check.reason !== "found") throw new Error(`expected found, got ${check.reason}`);
  console.log(`setup: ${OTHERS} other session files in ${projectDir}`);
  await measure("resolveResume, found id", () => resolveResume(id, options));

  const PROJECTS = 200;
  for (let i = 0; i < PROJECTS; i += 1) {
    const other = join(claudeDir, "projects", `-old-generation-${i}`);
    await mkdir(other);
    await writeFile(join(other, `${randomUUID()}.jsonl`), LINE);
  }
  const missing = randomUUID();
  await measure(
    `resolveResume, missing id (looks in ${PROJECTS} other project dirs)`,
    () => resolveResume(missing, options),
    1_000,
  );

  const store = createSessionStore({ file: join(root, "state", "session.json") });
  await store.set(id);
  await measure("planResume (store read + resolve), found id", () => planResume(store, options));
} finally {
  await rm(root, { recursive: true, force: true });
}
