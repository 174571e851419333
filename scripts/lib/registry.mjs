// A real npm registry on loopback for the release rehearsal: Verdaccio 6.8.0 (the last release whose
// engines accept Node 20), installed on demand into the cache folder, storage in a temp dir, no
// uplinks — nothing leaves the machine and nothing from the public registry can stand in for ours.
// Anyone may publish @molecule/* (npm still wants a token: give it any, see `authLine`).
import { fork } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureCachedTool } from "./cached-tool.mjs";

// A dependency asks for `node-fetch@cjs`, a dist-tag the reachable registry does not carry; 2.7.0 is
// what that tag names.
export const VERDACCIO = { name: "verdaccio", version: "6.8.0", overrides: { "node-fetch": "2.7.0" } };

/**
 * Starts the registry. `stop()` ends it (SIGTERM, then SIGKILL after 5 s); the caller removes `dir`.
 * @param {{ dir: string, env?: Record<string, string>, readyTimeoutMs?: number }} options
 * @returns {Promise<{ url: string, port: number, logFile: string, installSeconds: number, stop: () => Promise<void>, pid: number | undefined }>}
 */
export async function startRegistry({ dir, env, readyTimeoutMs = 60_000 }) {
  const tool = ensureCachedTool({ ...VERDACCIO, env });
  mkdirSync(join(dir, "storage"), { recursive: true });
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    [
      `storage: ${JSON.stringify(join(dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
      "    max_users: -1",
      "uplinks: {}",
      "packages:",
      "  '@molecule/*':",
      "    access: $all",
      "    publish: $all",
      "    unpublish: $all",
      "web:",
      "  enable: false",
      "server:",
      "  keepAliveTimeout: 5",
      "max_body_size: 50mb",
      "log: { type: stdout, format: json, level: warn }",
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "verdaccio.log");
  const log = createWriteStream(logFile);
  const child = fork(
    join(dirname(fileURLToPath(import.meta.url)), "registry-child.cjs"),
    [tool.packageDir, configFile],
    {
      cwd: dir,
      env: env ?? process.env,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });

  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
  };

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(new Error(`E_REGISTRY_START: Verdaccio did not listen within ${readyTimeoutMs} ms (log: ${logFile})`)),
      readyTimeoutMs,
    );
    child.on("message", (message) => {
      clearTimeout(timer);
      if (message && typeof message === "object" && "port" in message) resolve(message.port);
      else reject(new Error(`E_REGISTRY_START: Verdaccio failed: ${JSON.stringify(message)} (log: ${logFile})`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`E_REGISTRY_START: Verdaccio exited ${code ?? signal} before listening (log: ${logFile})`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  const url = `http://127.0.0.1:${port}/`;
  // One real request: the API answers, not just the socket.
  const ping = await fetch(new URL("-/ping", url)).catch((error) => error);
  if (!(ping instanceof Response) || !ping.ok) {
    await stop();
    throw new Error(`E_REGISTRY_START: ${url}-/ping did not answer 200 (log: ${logFile})`);
  }
  return { url, port, logFile, installSeconds: tool.seconds, stop, pid: child.pid };
}

/** The user-config line that lets npm and pnpm publish to `url` (Verdaccio accepts any token here). */
export function authLine(url) {
  return `${url.replace(/^https?:/, "")}:_authToken=rehearsal-not-a-secret`;
}
