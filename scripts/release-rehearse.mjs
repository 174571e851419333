#!/usr/bin/env node
// `pnpm release:rehearse` (run by `npm test` after the tests): the release, end to end, on a real npm
// registry on loopback, before it ever runs for real.
//
//  1. A scratch copy of the repository (scripts/lib/scratch-copy.mjs) with the dist/ folders
//     `npm test` already built — nothing is built again, the working tree is never touched.
//  2. Verdaccio 6.8.0 on 127.0.0.1 (scripts/lib/registry.mjs): storage in a temp dir, no uplinks.
//  3. `changeset version --snapshot rehearsal` applies the pending changesets (versions become
//     `<next>-rehearsal-<datetime>`), then `changeset publish` — the command `pnpm release` runs in
//     the release workflow — publishes every public package to that registry, with exactly one
//     difference: `--provenance=false` on each `pnpm publish`. `changeset publish` passes no flags
//     through and a manifest's `publishConfig.provenance: true` beats any environment variable, so a
//     `pnpm` shim first on PATH appends the flag to `pnpm publish` and to nothing else. The
//     equivalent by hand, in each package folder:
//       pnpm publish --access public --tag latest --no-git-checks --json --provenance=false
//  4. Every tarball is read (LICENSE, README, no src/ or tests, no `workspace:` range, sizes against
//     docs/package-sizes.md), every @molecule range is resolved against the registry, and each
//     package is installed, imported, required, type-checked, its README usage blocks run and its
//     bins run, as a user would (scripts/lib/rehearse-consumer.mjs).
//  5. The registry stops and every temp dir goes, whatever happened (finally + signal handlers).
//
// Options: --update-sizes (rewrite docs/package-sizes.md from this run), --keep (leave the temp dir).
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseSizes, renderSizes, sizeProblem } from "./lib/package-sizes.mjs";
import { cleanEnv, describeFailure, killRunning, mapLimit, run } from "./lib/proc.mjs";
import { authLine, startRegistry } from "./lib/registry.mjs";
import { checkConsumer, checkPnpmConsumer } from "./lib/rehearse-consumer.mjs";
import { scratchCopy } from "./lib/scratch-copy.mjs";
import { readTarball, tarballProblems, unresolvedRanges } from "./lib/tarball.mjs";
import { readReadme } from "./lib/usage-blocks.mjs";
import { publicPackages, sourceProblems } from "./lib/workspace-packages.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = new Set(process.argv.slice(2));
const UPDATE_SIZES = args.has("--update-sizes");
const KEEP = args.has("--keep");
const SIZES_FILE = join(root, "docs", "package-sizes.md");
/** The package installed once more with pnpm: it imports every other runtime package. */
const PNPM_PACKAGE = "@molecule/runtime";

const started = Date.now();
/** @type {[string, number][]} */
const phases = [];
const phase = async (/** @type {string} */ name, /** @type {() => any} */ fn) => {
  const t0 = Date.now();
  process.stdout.write(`rehearsal: ${name}…\n`);
  const value = await fn();
  phases.push([name, (Date.now() - t0) / 1000]);
  return value;
};
const fail = (/** @type {string} */ message) => {
  throw Object.assign(new Error(message), { rehearsal: true });
};

// ---- cleanup, whatever happens
const tmp = mkdtempSync(join(tmpdir(), "molecule-rehearsal-"));
/** @type {Awaited<ReturnType<typeof startRegistry>> | undefined} */
let registry;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killRunning("SIGTERM");
  await registry?.stop().catch(() => {});
  if (registry) forgetCachedRegistryResponses(registry.port);
  if (KEEP) process.stdout.write(`rehearsal: kept ${tmp}\n`);
  else rmSync(tmp, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(signal, () => {
    process.stderr.write(`\nrehearsal: ${signal}, cleaning up\n`);
    void cleanup().finally(() => process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1)));
  });
}
process.once("exit", () => {
  // Last resort (an uncaught error): the registry child exits on its own when our IPC channel closes.
  if (!cleaned && !KEEP) rmSync(tmp, { recursive: true, force: true });
});

/** npm caches the registry's answers by URL; a port is never reused meaningfully, drop them. */
function forgetCachedRegistryResponses(port) {
  try {
    const keys = execFileSync("npm", ["cache", "ls"], {
      cwd: tmpdir(),
      env: cleanEnv(root),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    })
      .split("\n")
      .filter((key) => key.includes(`//127.0.0.1:${port}/`));
    if (keys.length > 0)
      execFileSync("npm", ["cache", "clean", ...keys], { cwd: tmpdir(), env: cleanEnv(root), stdio: "ignore" });
  } catch {
    // best effort: an old npm without `cache ls`
  }
}

async function main() {
  const pkgs = publicPackages(root);
  const early = sourceProblems(root, pkgs);
  if (early.length > 0) fail(`the tree cannot be rehearsed:\n  ${early.join("\n  ")}`);

  const env = cleanEnv(root, {
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  });
  const changeset = join(root, "node_modules", "@changesets", "cli", "bin.js");
  const scratch = join(tmp, "repo");
  const copied = await phase("scratch copy", () =>
    scratchCopy({ root, dest: scratch, builtDirs: pkgs.map((p) => p.dir) }),
  );
  registry = await phase("start Verdaccio", () => startRegistry({ dir: join(tmp, "registry"), env }));
  const registryUrl = registry.url;

  // A user config for publishing: the user's own (proxies, CA) plus a dummy token for the registry.
  const userConfig = join(tmp, "npmrc-publish");
  const ownUserConfig = execFileSync("npm", ["config", "get", "userconfig"], {
    cwd: tmp,
    env,
    encoding: "utf8",
  }).trim();
  writeFileSync(
    userConfig,
    `${existsSync(ownUserConfig) ? readFileSync(ownUserConfig, "utf8") : ""}\n${authLine(registryUrl)}\n`,
  );

  // ---- version
  const preState = join(scratch, ".changeset", "pre.json");
  if (existsSync(preState)) {
    // A snapshot is refused in pre mode; the rehearsal tests the tree, not the prerelease counter.
    rmSync(preState);
    process.stdout.write(
      "rehearsal: .changeset/pre.json removed in the scratch copy (snapshots are refused in pre mode)\n",
    );
  }
  const builtVersions = new Map(pkgs.map((p) => [p.name, p.manifest.version]));
  const versioned = await phase("changeset version --snapshot rehearsal", () =>
    run(process.execPath, [changeset, "version", "--snapshot", "rehearsal"], { cwd: scratch, env, timeoutMs: 120_000 }),
  );
  if (versioned.code !== 0) fail(`changeset version failed: ${describeFailure(versioned)}`);
  const versions = new Map(
    pkgs.map((p) => [p.name, JSON.parse(readFileSync(join(scratch, p.dir, "package.json"), "utf8")).version]),
  );

  // ---- publish, exactly as `pnpm release` does after its build, plus --provenance=false
  const shimDir = join(tmp, "shim");
  mkdirSync(shimDir);
  const realPnpm = execFileSync("sh", ["-c", "command -v pnpm"], { env, encoding: "utf8" }).trim();
  if (!realPnpm) fail("pnpm is not on PATH. Fix: run through `pnpm release:rehearse` or `npm test`");
  // A node script, not sh: dash drops environment variables whose names are not identifiers, such
  // as the `npm_config_@molecule:registry` that changesets sets for each publish.
  writeFileSync(
    join(shimDir, "pnpm"),
    [
      "#!/usr/bin/env node",
      "// release rehearsal: the one difference from the real release",
      'const { spawnSync } = require("node:child_process");',
      "const args = process.argv.slice(2);",
      'if (args[0] === "publish") args.push("--provenance=false");',
      `const result = spawnSync(${JSON.stringify(realPnpm)}, args, { stdio: "inherit" });`,
      "process.exit(result.status ?? 1);",
      "",
    ].join("\n"),
  );
  chmodSync(join(shimDir, "pnpm"), 0o755);
  const publishEnv = {
    ...env,
    PATH: `${shimDir}:${env.PATH}`,
    NPM_CONFIG_USERCONFIG: userConfig,
    "npm_config_@molecule:registry": registryUrl,
  };
  const published = await phase("changeset publish", () =>
    run(process.execPath, [changeset, "publish"], { cwd: scratch, env: publishEnv, timeoutMs: 10 * 60_000 }),
  );
  if (published.code !== 0) fail(`changeset publish failed: ${describeFailure(published, 40)}`);
  const tags = execFileSync("git", ["tag", "-l"], { cwd: scratch, encoding: "utf8" }).split("\n").filter(Boolean);

  // ---- tarballs and ranges
  const semver = createRequire(
    join(execFileSync("npm", ["root", "-g"], { cwd: tmp, env, encoding: "utf8" }).trim(), "npm", "package.json"),
  )("semver");
  const committedSizes = existsSync(SIZES_FILE) ? parseSizes(readFileSync(SIZES_FILE, "utf8")) : new Map();
  const rows = await phase("tarballs", async () => {
    const packuments = new Map();
    for (const pkg of pkgs) {
      const res = await fetch(new URL(pkg.name.replace("/", "%2f"), registryUrl));
      packuments.set(pkg.name, res.ok ? await res.json() : undefined);
    }
    const publishedVersions = new Map([...packuments].map(([name, doc]) => [name, Object.keys(doc?.versions ?? {})]));
    const out = [];
    for (const pkg of pkgs) {
      const version = versions.get(pkg.name);
      const row = { pkg, version, problems: [], checks: {}, packed: 0, unpacked: 0, files: 0, installMs: undefined };
      out.push(row);
      const meta = packuments.get(pkg.name)?.versions?.[version];
      if (!meta) {
        row.problems.push(`${pkg.name}@${version} is not on the registry after changeset publish`);
        continue;
      }
      if (!tags.includes(`${pkg.name}@${version}`))
        row.problems.push(`changeset publish created no tag ${pkg.name}@${version}`);
      const tgz = Buffer.from(await (await fetch(meta.dist.tarball)).arrayBuffer());
      const tarball = readTarball(tgz);
      row.packed = tgz.length;
      row.unpacked = tarball.unpackedSize;
      row.files = tarball.files.length;
      row.manifest = tarball.manifest ?? {};
      row.problems.push(...tarballProblems(tarball, { name: pkg.name, version }));
      row.checks.tarball = row.problems.length === 0 ? "ok" : "FAIL";
      const ranges = unresolvedRanges(row.manifest, publishedVersions, semver);
      row.problems.push(...ranges);
      row.checks.ranges = ranges.length === 0 ? "ok" : "FAIL";
      const grown = UPDATE_SIZES ? undefined : sizeProblem(committedSizes.get(pkg.name), row.packed);
      if (grown) row.problems.push(grown);
      row.checks.size = grown ? "FAIL" : committedSizes.has(pkg.name) ? "ok" : "new";
    }
    return out;
  });

  // ---- consumers
  const ts = createRequire(join(root, "package.json"))("typescript");
  const usageEnv = usageEnvironment(scratch);
  await phase("install, import, require, tsc, usage, bins", () =>
    mapLimit(rows, 2, async (row) => {
      if (!row.manifest) return;
      const readme = readReadme(join(root, row.pkg.dir, "README.md"));
      const pkg = { name: row.pkg.name, manifest: row.manifest, install: readme.install, usage: readme.usage };
      const dir = join(tmp, "consumers", row.pkg.name.replace("/", "+"));
      const ctx = {
        root,
        registryUrl,
        dir,
        env,
        usageEnv,
        ts,
        version: row.version,
        builtVersion: builtVersions.get(pkg.name),
      };
      const result = await checkConsumer(pkg, ctx);
      Object.assign(row.checks, result.checks);
      row.installMs = result.installMs;
      row.problems.push(...result.problems);
      if (pkg.name === PNPM_PACKAGE) {
        const viaPnpm = await checkPnpmConsumer(pkg, ctx);
        row.checks.pnpm = viaPnpm.ok ? `ok ${(viaPnpm.ms / 1000).toFixed(1)} s` : "FAIL";
        row.problems.push(...viaPnpm.problems);
      }
    }),
  );

  // ---- report
  printTable(rows);
  for (const line of published.stdout.split("\n").filter((l) => /New tag:/.test(l)))
    process.stdout.write(`  ${line.trim()}\n`);
  const problems = rows.flatMap((row) => row.problems.map((p) => `${row.pkg.name}: ${p}`));
  if (!rows.some((row) => row.checks.pnpm))
    problems.push(`${PNPM_PACKAGE} was not installed with pnpm (not published?)`);
  const unmarked = rows
    .filter((row) => row.checks.usage === "–" && row.manifest?.exports?.["."])
    .map((row) => row.pkg.name);
  if (unmarked.length > 0) process.stdout.write(`\nno \`\`\`ts usage block in the README of: ${unmarked.join(", ")}\n`);
  process.stdout.write(
    `\nscratch copy: ${copied.files} files (${(copied.bytes / 1024).toFixed(0)} KB) + dist/; ` +
      `registry ${registryUrl} (Verdaccio ${registry.installSeconds ? `installed in ${registry.installSeconds.toFixed(1)} s` : "from the cache"})\n`,
  );
  process.stdout.write(`phases: ${phases.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join(", ")}\n`);
  if (UPDATE_SIZES && problems.length === 0) {
    mkdirSync(dirname(SIZES_FILE), { recursive: true });
    const sizeRows = rows.map((row) => ({
      name: row.pkg.name,
      packed: row.packed,
      unpacked: row.unpacked,
      files: row.files,
    }));
    writeFileSync(
      SIZES_FILE,
      renderSizes(sizeRows, { node: process.version, date: new Date().toISOString().slice(0, 10) }),
    );
    process.stdout.write(`wrote ${SIZES_FILE}\n`);
  }
  if (problems.length > 0) fail(`${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  const next = rows.map((row) => `${row.pkg.name}@${String(row.version).replace(/-rehearsal-.*$/, "")}`).join(", ");
  process.stdout.write(
    `\nrelease rehearsal passed in ${((Date.now() - started) / 1000).toFixed(1)} s; the next release: ${next}\n`,
  );
}

/** What a README usage block runs with: temp HOME and state, the example workspace as config. */
function usageEnvironment(scratch) {
  const base = join(tmp, "usage");
  const configs = join(base, "configs");
  mkdirSync(join(base, "home"), { recursive: true });
  mkdirSync(join(base, "state"), { recursive: true });
  mkdirSync(configs, { recursive: true });
  const example = join(scratch, "examples", "workspace");
  if (existsSync(example)) execFileSync("cp", ["-R", `${example}/.`, configs]);
  return {
    HOME: join(base, "home"),
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
    PLATFORM_URL: "http://127.0.0.1:9",
    WORKSPACE_CONFIG_PATH: configs,
    CONFIGS_DIR: configs,
    MOLECULE_STATE_DIR: join(base, "state"),
    NO_COLOR: "1",
  };
}

const COLUMNS = ["tarball", "ranges", "size", "install", "esm", "cjs", "nodenext", "bundler", "usage", "bins", "pnpm"];

function printTable(rows) {
  const kb = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KB`;
  const header = ["package", "version", "packed", "unpacked", "files", "install time", ...COLUMNS];
  const body = rows.map((row) => [
    row.pkg.name,
    String(row.version),
    kb(row.packed),
    kb(row.unpacked),
    String(row.files),
    row.installMs === undefined ? "–" : `${(row.installMs / 1000).toFixed(1)} s`,
    ...COLUMNS.map((column) => row.checks[column] ?? "–"),
  ]);
  const widths = header.map((cell, i) => Math.max(cell.length, ...body.map((line) => line[i].length)));
  const line = (/** @type {string[]} */ cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  process.stdout.write(`\n${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n${body.map(line).join("\n")}\n`);
}

try {
  await main();
  await cleanup();
} catch (error) {
  await cleanup();
  const message = error instanceof Error ? (error.rehearsal ? error.message : error.stack) : String(error);
  process.stderr.write(`\nrelease rehearsal FAILED: ${message}\n`);
  process.exit(1);
}
