// The container engine the image test drives: a Docker engine when one answers (GitHub's hosted
// runners), otherwise buildah + podman from Debian's packages (installed with apt-get when missing)
// with storage, run state and config private to the test (a temp dir), so nothing leaks into the
// host's containers and everything goes away with the dir. Every method that runs while the
// container talks to this process's servers is asynchronous.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fail, has, log, run, runAsync, runStreaming } from "./util.mjs";

const PODMAN_PACKAGES = ["buildah", "podman", "runc", "debootstrap", "uidmap", "tar"];
const PODMAN_COMMANDS = ["buildah", "podman", "runc", "debootstrap"];

/** Installs buildah, podman, runc and debootstrap with apt-get when any is missing; fails loudly if it cannot. */
export function ensurePodmanTools() {
  const missing = PODMAN_COMMANDS.filter((c) => !has(c));
  if (missing.length === 0) return;
  log(`missing ${missing.join(", ")}: installing ${PODMAN_PACKAGES.join(" ")} with apt-get`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    fail(
      `${missing.join(", ")} not installed and not running as root: run \`sudo apt-get install -y ${PODMAN_PACKAGES.join(" ")}\` (or start a Docker engine) and try again`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-qq"], { env, timeoutMs: 5 * 60_000 });
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...PODMAN_PACKAGES], {
    env,
    timeoutMs: 10 * 60_000,
  });
  const still = PODMAN_COMMANDS.filter((c) => !has(c));
  if (still.length > 0) fail(`apt-get installed the packages but ${still.join(", ")} is still not on PATH`);
}

/**
 * True when a Docker engine answers `docker info` (a client alone is not enough) and the client has
 * BuildKit (`docker buildx`: the Dockerfile's cache mounts need it). MOLECULE_IMAGE_ENGINE=podman
 * (or docker) decides instead.
 */
export function dockerEngineAnswers() {
  const forced = process.env.MOLECULE_IMAGE_ENGINE;
  if (forced === "podman") return false;
  if (forced === "docker") return true;
  if (!has("docker")) return false;
  const ok = (args) => run("docker", args, { allowFail: true, timeoutMs: 20_000 }).status === 0;
  return ok(["info", "--format", "{{.ServerVersion}}"]) && ok(["buildx", "version"]);
}

/** The host-side memory cgroup files of a container's init process (cgroup v1 or v2). */
export function memoryCgroup(pid) {
  let lines = [];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  } catch {
    return undefined;
  }
  const v1 = lines.find((l) => /^\d+:[^:]*\bmemory\b[^:]*:/.test(l));
  if (v1) {
    const dir = `/sys/fs/cgroup/memory${v1.split(":")[2]}`;
    if (existsSync(join(dir, "memory.stat"))) return { version: 1, dir };
  }
  const v2 = lines.find((l) => l.startsWith("0::"));
  if (v2) {
    const dir = `/sys/fs/cgroup${v2.slice(3)}`;
    if (existsSync(join(dir, "memory.stat"))) return { version: 2, dir };
  }
  return undefined;
}

/**
 * One memory sample of a cgroup: rss (anonymous memory: the processes' own), workingSet (usage minus
 * inactive file cache: what the kubelet compares with the limit) and usage (page cache included).
 */
export function memorySample(cgroup) {
  const stat = Object.fromEntries(
    readFileSync(join(cgroup.dir, "memory.stat"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [key, value] = line.split(" ");
        return [key, Number(value)];
      }),
  );
  if (cgroup.version === 1) {
    const usage = Number(readFileSync(join(cgroup.dir, "memory.usage_in_bytes"), "utf8"));
    return {
      rss: stat.total_rss ?? stat.rss ?? 0,
      workingSet: usage - (stat.total_inactive_file ?? 0),
      usage,
    };
  }
  const usage = Number(readFileSync(join(cgroup.dir, "memory.current"), "utf8"));
  return { rss: stat.anon ?? 0, workingSet: usage - (stat.inactive_file ?? 0), usage };
}

/**
 * Samples the container's memory while `promise` runs; resolves with its value and the peaks. From
 * the memory cgroup of its PID 1 when this process can see it (every 100 ms), else from the engine's
 * `stats` (a Docker engine whose containers live in another PID namespace; working set only).
 */
export async function sampled(engine, id, pid, promise) {
  const cgroup = memoryCgroup(pid);
  const peak = { rss: 0, workingSet: 0, usage: 0 };
  const keep = (sample) => {
    for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], sample[key] ?? 0);
  };
  let busy = false;
  const take = async () => {
    if (busy) return;
    busy = true;
    try {
      keep(cgroup ? memorySample(cgroup) : await engine.memoryStats(id));
    } catch {
      // the container stopped under us
    } finally {
      busy = false;
    }
  };
  await take();
  const timer = setInterval(take, cgroup ? 100 : 500);
  try {
    const value = await promise;
    return { value, peak };
  } finally {
    clearInterval(timer);
    await take();
  }
}

function commonMethods(cli, env, created) {
  const exec = (args, options = {}) => runAsync(cli, args, { env, ...options });
  return {
    async runContainer(args) {
      const id = (await exec(["run", "-d", ...args])).stdout.trim().split("\n").at(-1) ?? "";
      created.containers.add(id);
      return id;
    },
    stop: (id, seconds) => exec(["stop", "-t", String(seconds), id], { timeoutMs: (seconds + 30) * 1000 }),
    async inspect(id) {
      return JSON.parse((await exec(["container", "inspect", id])).stdout)[0];
    },
    exec: (id, cmd, options = {}) => exec(["exec", id, ...cmd], options),
    async logs(id) {
      const out = await exec(["logs", id], { allowFail: true });
      return `${out.stdout}${out.stderr}`;
    },
    saveImage: (tag, file) =>
      exec(cli === "podman" ? ["save", "--format", "docker-archive", "-o", file, tag] : ["save", "-o", file, tag], {
        timeoutMs: 5 * 60_000,
      }),
    async imageInspect(tag) {
      return JSON.parse((await exec(["image", "inspect", tag])).stdout)[0];
    },
    runOnce: (args, options = {}) => exec(["run", "--rm", ...args], options),
    /** Memory as the engine's `stats` reports it (usage less inactive file cache: the working set). */
    async memoryStats(id) {
      const out = await exec(["stats", "--no-stream", "--format", "{{.MemUsage}}", id]);
      const workingSet = parseSize(out.stdout.split("/")[0] ?? "");
      return { workingSet, rss: 0, usage: workingSet };
    },
    async removeContainer(id) {
      await exec(["rm", "-f", id], { allowFail: true });
      created.containers.delete(id);
    },
  };
}

/**
 * Podman/buildah with private storage under `dir`: CONTAINERS_STORAGE_CONF (overlay, graphroot and
 * runroot in `dir`) and CONTAINERS_CONF (runc, cgroupfs, file events, and the ulimits an unprivileged
 * build host allows). buildah's cache mounts (the pnpm store, npm's cache) live in `cacheDir`.
 */
export function createPodmanEngine(dir, cacheDir) {
  ensurePodmanTools();
  for (const sub of ["graph", "run", "tmp", "libpod-tmp", "volumes"]) mkdirSync(join(dir, sub), { recursive: true });
  const storageConf = join(dir, "storage.conf");
  writeFileSync(
    storageConf,
    `[storage]\ndriver = "overlay"\nrunroot = "${join(dir, "run")}"\ngraphroot = "${join(dir, "graph")}"\n`,
  );
  const containersConf = join(dir, "containers.conf");
  writeFileSync(
    containersConf,
    [
      "[containers]",
      'default_ulimits = ["nofile=20000:20000", "nproc=32767:32767"]',
      "[engine]",
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, "events.log")}"`,
      `tmp_dir = "${join(dir, "libpod-tmp")}"`,
      `volume_path = "${join(dir, "volumes")}"`,
      "",
    ].join("\n"),
  );
  const env = {
    ...process.env,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_CONF: containersConf,
    TMPDIR: join(dir, "tmp"),
  };
  // buildah keeps RUN --mount=type=cache dirs under $TMPDIR/buildah-cache: a persistent dir there
  // keeps the pnpm store and npm's cache between runs (size-capped by the caller).
  const buildEnv = { ...env, TMPDIR: cacheDir ?? join(dir, "tmp"), BUILDAH_ISOLATION: "chroot" };
  const created = { containers: new Set() };
  const common = commonMethods("podman", env, created);
  return {
    name: "podman",
    env,
    describe: () =>
      `${run("buildah", ["--version"], { env }).stdout.trim()}; ${run("podman", ["--version"], { env }).stdout.trim()}; storage: overlay in ${dir}`,
    async build({ context, tag, buildArgs }) {
      // --layers: one layer per step (the size report splits them); the storage is new each run.
      const args = ["bud", "--format", "docker", "--isolation", "chroot", "--layers", "-f", "Dockerfile"];
      for (const [name, value] of Object.entries(buildArgs)) args.push("--build-arg", `${name}=${value}`);
      // This machine's egress may pass a TLS-intercepting proxy whose CA the host trusts through
      // NODE_EXTRA_CA_CERTS: lend it to the build stage's npm/pnpm (a bind mount, never a layer).
      const ca = process.env.NODE_EXTRA_CA_CERTS;
      if (ca && existsSync(ca)) {
        args.push(
          "-v",
          `${ca}:/run/molecule-build-ca.crt:ro`,
          "--build-arg",
          "NODE_EXTRA_CA_CERTS=/run/molecule-build-ca.crt",
        );
      }
      args.push("-t", tag, ".");
      const result = await runStreaming("buildah", args, { cwd: context, env: buildEnv });
      if (result.status !== 0) fail(`buildah bud failed (exit ${result.status}):\n${result.tail}`);
    },
    ...common,
    /** Runs the image's HEALTHCHECK once (podman has no systemd timers here). */
    healthcheck: (id) => runAsync("podman", ["healthcheck", "run", id], { env, allowFail: true }),
    /**
     * Containers (their conmon processes) and build containers, then the overlay mounts the private
     * storage still holds; the caller deletes the storage dir, and every image with it (faster than
     * `podman rmi`, and never `podman system reset`, which also removes the host's network configs).
     */
    async cleanupAll() {
      await runAsync("podman", ["rm", "-af", "-t", "0"], { env, allowFail: true });
      await runAsync("buildah", ["rm", "--all"], { env: buildEnv, allowFail: true });
      unmountUnder(dir);
    },
  };
}

/** The Docker engine (BuildKit): the official base image is pulled from the registry. */
export function createDockerEngine() {
  const env = { ...process.env, DOCKER_BUILDKIT: "1" };
  const created = { containers: new Set(), images: new Set() };
  const common = commonMethods("docker", env, created);
  return {
    name: "docker",
    env,
    describe: () =>
      `docker engine ${run("docker", ["info", "--format", "{{.ServerVersion}}"], { env }).stdout.trim()} (BuildKit)`,
    async build({ context, tag, buildArgs }) {
      const args = ["build", "-f", "Dockerfile"];
      for (const [name, value] of Object.entries(buildArgs)) args.push("--build-arg", `${name}=${value}`);
      args.push("-t", tag, ".");
      created.images.add(tag);
      const result = await runStreaming("docker", args, { cwd: context, env });
      if (result.status !== 0) fail(`docker build failed (exit ${result.status}):\n${result.tail}`);
    },
    ...common,
    // Docker's daemon runs the HEALTHCHECK on its own schedule: make it frequent for the test.
    runContainer: (args) => common.runContainer(["--health-interval", "2s", ...args]),
    /** The daemon's verdict: wait for `healthy` (or a failing streak). */
    async healthcheck(id) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const health = (await common.inspect(id))?.State?.Health;
        const last = health?.Log?.at(-1);
        if (health?.Status === "healthy" || health?.Status === "unhealthy" || Date.now() > deadline) {
          return {
            status: health?.Status === "healthy" ? 0 : 1,
            stdout: last?.Output ?? "",
            stderr: health?.Status ?? "",
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
    async cleanupAll() {
      for (const id of created.containers) await runAsync("docker", ["rm", "-f", id], { env, allowFail: true });
      for (const tag of created.images) await runAsync("docker", ["rmi", "-f", tag], { env, allowFail: true });
    },
  };
}

/** Unmounts every mount point under `dir`, deepest first. */
export function unmountUnder(dir) {
  let mounts = "";
  try {
    mounts = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return;
  }
  const points = mounts
    .split("\n")
    .map((line) => (line.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) run("umount", ["-l", point], { allowFail: true });
}

/** "123.4MB", "1.2GiB", "512kB" → bytes (podman prints SI units, docker binary ones). */
export function parseSize(text) {
  const m = /^([\d.]+)\s*([kKMGT]?i?B)?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const units = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
  return Number(m[1]) * (units[m[2] ?? "B"] ?? 1);
}
