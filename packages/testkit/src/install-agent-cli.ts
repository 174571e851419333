import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import { TestkitError } from "./errors.js";

/** What `installAgentCli` installs, where, and how it reports. */
export interface InstallAgentCliOptions {
  /** the npm package, e.g. `"@openai/codex"` */
  package: string;
  /** the exact version, e.g. `"0.169.0"` (the cache dir is `<cache>/agents/<name>-<version>`) */
  version: string;
  /** the executable the package links into `node_modules/.bin` (Codex: codex) */
  bin: string;
  /**
   * the cache root; default `$MOLECULE_CACHE_DIR`, else `$XDG_CACHE_HOME/molecule`, else
   * `~/.cache/molecule`
   */
  cacheDir?: string;
  /** what npm installs: default `<package>@<version>`; a tarball path or `file:` spec installs offline */
  from?: string;
  /** the npm executable, default `"npm"` */
  npm?: string;
  /** aborts a running install (npm is killed, nothing is left behind) or a wait for another one */
  signal?: AbortSignal;
  /** called when the install starts, waits for another process's install, and ends */
  onProgress?: (event: InstallAgentCliProgress) => void;
  /** how long to wait for another process's install before giving up, default 15 minutes */
  lockTimeoutMs?: number;
}

/** What `installAgentCli` is doing: `installing` (npm runs), `waiting` (another process installs), `installed`. */
export interface InstallAgentCliProgress {
  /** `installing`: npm runs; `waiting`: another process holds the lock; `installed`: in place */
  readonly phase: "installing" | "waiting" | "installed";
  /** `<package>@<version>` */
  readonly spec: string;
  /** the install dir, `<cache>/agents/<name>-<version>` */
  readonly dir: string;
}

/** The installed CLI. */
export interface InstallAgentCliResult {
  /** the executable: `<dir>/node_modules/.bin/<bin>` */
  readonly bin: string;
  /** the install dir, `<cache>/agents/<name>-<version>` */
  readonly dir: string;
  /** true when this call ran npm; false when the CLI was already installed (by anyone) */
  readonly installed: boolean;
}

/** `$MOLECULE_CACHE_DIR`, else `$XDG_CACHE_HOME/molecule`, else `~/.cache/molecule`. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.MOLECULE_CACHE_DIR) return env.MOLECULE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "molecule");
}

const POLL_MS = 250;
/** A lock whose owner is alive is still taken over after this long (a wedged npm). */
const STALE_LOCK_MS = 30 * 60_000;
const STDERR_TAIL_LINES = 12;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

function installFailed(message: string, cause?: unknown): TestkitError {
  return new TestkitError({ code: "E_AGENT_INSTALL_FAILED", message, ...(cause === undefined ? {} : { cause }) });
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The install was aborted", "AbortError");
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface LockOwner {
  pid: number;
  host: string;
  at: number;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True when the lock's owner is gone (a killed install) or the lock is very old. */
async function isStale(lock: string): Promise<boolean> {
  let owner: Partial<LockOwner> | undefined;
  try {
    owner = JSON.parse(await readFile(join(lock, "owner.json"), "utf8")) as Partial<LockOwner>;
  } catch {
    // the owner is between mkdir and writing owner.json, or died there: judge by the dir's age
    const info = await stat(lock).catch(() => undefined);
    return info === undefined ? false : Date.now() - info.mtimeMs > 60_000;
  }
  if (typeof owner.at === "number" && Date.now() - owner.at > STALE_LOCK_MS) return true;
  if (owner.host === hostname() && typeof owner.pid === "number") return !isAlive(owner.pid);
  return false;
}

/** Takes `lock` (a directory: mkdir is atomic), or returns false when `done()` became true while waiting. */
async function acquire(
  lock: string,
  done: () => Promise<boolean>,
  options: { signal: AbortSignal | undefined; timeoutMs: number; onWait: () => void },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) throw abortError(options.signal);
    try {
      await mkdir(lock);
      const owner: LockOwner = { pid: process.pid, host: hostname(), at: Date.now() };
      await writeFile(join(lock, "owner.json"), JSON.stringify(owner));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await done()) return false;
    if (await isStale(lock)) {
      // Move it aside first, so two waiters never both delete a lock and both take it.
      const aside = `${lock}.stale-${randomBytes(4).toString("hex")}`;
      if (
        await rename(lock, aside).then(
          () => true,
          () => false,
        )
      )
        await rm(aside, { recursive: true, force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      options.onWait();
    }
    if (Date.now() > deadline) {
      throw installFailed(
        `another process has been installing into ${lock.replace(/\.lock$/, "")} for over ${Math.round(options.timeoutMs / 1000)} s (lock ${lock}); wait for it, or remove the lock dir if no install is running`,
      );
    }
    await sleep(POLL_MS, options.signal);
  }
}

interface NpmRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  error?: Error;
}

function runNpm(npm: string, args: string[], signal: AbortSignal | undefined): Promise<NpmRun> {
  return new Promise((resolve) => {
    let stderr = "";
    let spawnError: Error | undefined;
    const child = spawn(npm, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" },
      ...(signal ? { signal } : {}),
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-64 * 1024);
    });
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (code, sig) =>
      resolve({ code, signal: sig, stderr, ...(spawnError ? { error: spawnError } : {}) }),
    );
  });
}

function tail(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  return lines.slice(-STDERR_TAIL_LINES).join("\n");
}

/**
 * Installs `<package>@<version>` with npm into `<cache>/agents/<name>-<version>` unless it is there
 * already, and returns its executable. For real agent CLIs too big to be dependencies (Codex is
 * 423 MB): `molecule dev --agent` and the e2e suites install them on first use.
 *
 * npm installs into a staging dir next to the target, which is renamed into place only once the
 * executable is there: a failed or killed install never leaves a half-installed CLI. A lock dir
 * keeps two processes from downloading at once (the second waits, then uses the first one's
 * install; a lock whose process died is taken over). A failure is a `TestkitError` with code
 * `E_AGENT_INSTALL_FAILED` carrying npm's last stderr lines.
 */
export async function installAgentCli(options: InstallAgentCliOptions): Promise<InstallAgentCliResult> {
  const { signal } = options;
  const spec = `${options.package}@${options.version}`;
  const name = options.package.split("/").pop() ?? options.package;
  if (!/^[\w.-]+$/.test(name) || !/^[\w.+-]+$/.test(options.version) || !/^[\w.-]+$/.test(options.bin)) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `installAgentCli: not a package name, version and bin name: ${JSON.stringify([options.package, options.version, options.bin])}`,
    });
  }
  const agents = join(options.cacheDir ?? defaultCacheDir(), "agents");
  const dir = join(agents, `${name}-${options.version}`);
  const bin = join(dir, "node_modules", ".bin", options.bin);
  const progress = (phase: InstallAgentCliProgress["phase"]) => options.onProgress?.({ phase, spec, dir });

  if (await exists(bin)) return { bin, dir, installed: false };
  if (signal?.aborted) throw abortError(signal);
  try {
    await mkdir(agents, { recursive: true });
  } catch (error) {
    throw installFailed(
      `cannot create the agent cache ${agents}: ${(error as Error).message}; set MOLECULE_CACHE_DIR to a writable directory`,
      error,
    );
  }

  const lock = `${dir}.lock`;
  const mine = await acquire(lock, () => exists(bin), {
    signal,
    timeoutMs: options.lockTimeoutMs ?? 15 * 60_000,
    onWait: () => progress("waiting"),
  });
  if (!mine) return { bin, dir, installed: false };

  const stagingPrefix = `.${name}-${options.version}.partial-`;
  const staging = join(agents, `${stagingPrefix}${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    // Another process may have finished between our check and the lock.
    if (await exists(bin)) return { bin, dir, installed: false };
    // What killed installs left behind: we hold the lock, so no one else is using these.
    for (const entry of await readdir(agents)) {
      if (entry.startsWith(stagingPrefix)) await rm(join(agents, entry), { recursive: true, force: true });
    }
    // A dir without its executable is not an install (made by hand, or a copy cut short).
    if (await exists(dir)) await rm(dir, { recursive: true, force: true });

    progress("installing");
    await mkdir(staging, { recursive: true });
    const target = options.from ?? spec;
    const run = await runNpm(
      options.npm ?? "npm",
      ["install", "--prefix", staging, "--no-save", "--no-audit", "--no-fund", "--no-package-lock", target],
      signal,
    );
    if (signal?.aborted) throw abortError(signal);
    if (run.error || run.code !== 0) {
      const how = run.error
        ? `could not run ${options.npm ?? "npm"} (${run.error.message})`
        : run.signal
          ? `was killed by ${run.signal}`
          : `exited ${run.code}`;
      const last = tail(run.stderr);
      throw installFailed(
        `npm install ${target} ${how}${last ? `; npm's last lines:\n${last}\n` : "; "}Is the npm registry reachable (\`npm ping\`; a proxy needs HTTPS_PROXY) and is there disk space in ${agents}? Nothing was left installed; run again to retry.`,
        run.error,
      );
    }
    const stagedBin = join(staging, "node_modules", ".bin", options.bin);
    if (!(await exists(stagedBin))) {
      throw installFailed(
        `npm installed ${target} but it has no executable named ${options.bin} (node_modules/.bin/${options.bin}); check the package and bin names`,
      );
    }
    const installed = await readFile(join(staging, "node_modules", options.package, "package.json"), "utf8")
      .then((text) => (JSON.parse(text) as { version?: unknown }).version)
      .catch(() => undefined);
    if (installed !== options.version) {
      throw installFailed(
        `npm installed ${options.package}@${String(installed)} from ${target}, not ${options.version}; nothing was kept`,
      );
    }
    await rename(staging, dir);
    progress("installed");
    return { bin, dir, installed: true };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(lock, { recursive: true, force: true });
  }
}
