// Small helpers shared by the image test: running commands, timing phases, temp dirs.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";

/** A failure of the image test: printed as the reason, exit 1. */
export class ImageTestError extends Error {
  constructor(message) {
    super(message);
    this.name = "ImageTestError";
  }
}

export function fail(message) {
  throw new ImageTestError(message);
}

export function log(message) {
  process.stdout.write(`  ${message}\n`);
}

/** "`command args` exited N" and the last 25 lines of its output. */
function exitedMessage(command, args, { status, stdout, stderr }) {
  const tail = `${stdout}\n${stderr}`.trim().split("\n").slice(-25).join("\n");
  return `${command} ${args.join(" ")} exited ${status}\n${tail}`;
}

/**
 * Runs a command to completion and returns { status, stdout, stderr }. Throws with the command's
 * tail of output when it fails, unless `allowFail` is set.
 */
export function run(command, args, options = {}) {
  const { allowFail = false, input, env, cwd, timeoutMs = 10 * 60_000, quiet = true } = options;
  const result = spawnSync(command, args, {
    cwd,
    env: env ?? process.env,
    input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: timeoutMs,
    stdio: quiet ? ["pipe", "pipe", "pipe"] : ["pipe", "inherit", "inherit"],
  });
  const out = { status: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
  if (result.error && !allowFail) fail(`${command} ${args.join(" ")}: ${result.error.message}`);
  if (out.status !== 0 && !allowFail) fail(exitedMessage(command, args, out));
  return out;
}

/**
 * `run` without blocking the event loop — needed while the container talks to the platform and the
 * fake model API served from this very process.
 */
export function runAsync(command, args, options = {}) {
  const { allowFail = false, env, cwd, timeoutMs = 10 * 60_000 } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      if (allowFail) resolve({ status: -1, stdout, stderr: `${stderr}${error.message}` });
      else reject(new ImageTestError(`${command} ${args.join(" ")}: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const out = { status: code ?? -1, stdout, stderr };
      if (out.status !== 0 && !allowFail) reject(new ImageTestError(exitedMessage(command, args, out)));
      else resolve(out);
    });
  });
}

/** Runs a command streaming its output (for long steps: builds), resolving with the exit status. */
export function runStreaming(command, args, options = {}) {
  const { env, cwd } = options;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let tail = [];
    const onData = (chunk) => {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() === "") continue;
        tail.push(line);
        if (tail.length > 40) tail = tail.slice(-40);
        process.stdout.write(`    │ ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s ${line}\n`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, tail: tail.join("\n") }));
  });
}

/** True when `command` is on PATH. */
export function has(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the container uses the host's network). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every `everyMs` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor(what, predicate, timeoutMs, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Phase timing: `await phases.time("build", () => …)`; `phases.print()` prints the table. */
export function createPhases() {
  const rows = [];
  return {
    rows,
    async time(name, fn) {
      const t0 = Date.now();
      process.stdout.write(`\n▶ ${name}\n`);
      try {
        const value = await fn();
        rows.push([name, (Date.now() - t0) / 1000, true]);
        process.stdout.write(`◀ ${name}: ok in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        return value;
      } catch (error) {
        rows.push([name, (Date.now() - t0) / 1000, false]);
        process.stdout.write(`◀ ${name}: FAILED after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        throw error;
      }
    },
    print(totalMs) {
      process.stdout.write("\nimage:test phase times:\n");
      for (const [name, seconds, ok] of rows) {
        process.stdout.write(`  ${ok ? "ok  " : "FAIL"} ${name.padEnd(52)} ${seconds.toFixed(1).padStart(7)} s\n`);
      }
      process.stdout.write(`  total${" ".repeat(52)}${(totalMs / 1000).toFixed(1).padStart(7)} s\n`);
    },
  };
}

export function mb(bytes) {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
