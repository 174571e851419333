// Child processes for the repository's scripts: a promise-returning run with a timeout and captured
// output, and an environment cleaned of what `pnpm run` / `npm run` inject (npm_config_*, the
// workspace's node_modules/.bin on PATH), so a command in a temp dir behaves as a user's would.
import { spawn } from "node:child_process";
import { delimiter, resolve, sep } from "node:path";

/**
 * `process.env` without the package-manager script variables and without PATH entries inside
 * `root` (the workspace's node_modules/.bin), plus `extra`.
 * @param {string} root
 * @param {Record<string, string | undefined>} [extra]
 * @returns {Record<string, string>}
 */
export function cleanEnv(root, extra = {}) {
  /** @type {Record<string, string>} */
  const env = {};
  const rootPrefix = resolve(root) + sep;
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    const lower = key.toLowerCase();
    if (lower.startsWith("npm_config_") || lower.startsWith("npm_package_") || lower.startsWith("npm_lifecycle_")) {
      continue;
    }
    if (["npm_command", "npm_execpath", "npm_node_execpath", "init_cwd", "pnpm_script_src_dir"].includes(lower))
      continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((entry) => entry && !resolve(entry).startsWith(rootPrefix))
    .join(delimiter);
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Children started by `run` that have not exited yet. */
const running = new Set();

/** Sends `signal` to every child `run` started that is still running (cleanup on a signal). */
export function killRunning(signal = "SIGTERM") {
  for (const child of running) child.kill(signal);
}

/**
 * Runs a command to completion. Never rejects for a non-zero exit: the caller reads `code`.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: Record<string, string>, timeoutMs?: number, input?: string }} [options]
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, ms: number, timedOut: boolean, command: string }>}
 */
export function run(command, args, options = {}) {
  const started = Date.now();
  const shown = [command, ...args].join(" ");
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    running.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, options.timeoutMs)
      : undefined;
    child.on("error", (error) => {
      stderr += `${error.message}\n`;
    });
    child.on("close", (code, signal) => {
      running.delete(child);
      if (timer) clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - started, timedOut, command: shown });
    });
  });
}

/**
 * A one-paragraph description of a failed run for an error message (the last lines of its output).
 * @param {{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean, command: string }} result
 * @param {number} [lines]
 */
export function describeFailure(result, lines = 25) {
  const how = result.timedOut ? "timed out" : `exited ${result.code ?? result.signal}`;
  const output = `${result.stdout}\n${result.stderr}`.trim().split("\n").slice(-lines).join("\n    ");
  return `\`${result.command}\` ${how}${output ? `:\n    ${output}` : ""}`;
}

/**
 * Runs `task` over `items` with at most `limit` at a time, keeping the order of the results.
 * @template T, R
 * @param {T[]} items
 * @param {number} limit
 * @param {(item: T, index: number) => Promise<R>} task
 * @returns {Promise<R[]>}
 */
export async function mapLimit(items, limit, task) {
  /** @type {R[]} */
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
