#!/usr/bin/env node
import { type ParseArgsConfig, parseArgs } from "node:util";
import { version } from "../package.json";
import { healthcheck } from "./healthcheck.js";

const USAGE = `Usage: molecule-runtime [--config DIR] [--workspace-dir DIR] [--grace SECONDS] [--host ADDR] [--pretty]
       molecule-runtime healthcheck [--config DIR] [--port PORT] [--host ADDR] [--timeout MS]
       molecule-runtime --version | --help

Runs the Molecule workspace daemon. Settings come from the environment (WORKSPACE_ID,
PLATFORM_URL, WORKSPACE_CONFIG_PATH, CONFIGS_DIR, MOLECULE_STATE_DIR, MOLECULE_ADVERTISE_URL,
MOLECULE_ORG_ID, LOG_LEVEL). --host is the interface to bind (default 0.0.0.0). --workspace-dir
(the agent's working directory) is created when missing.

healthcheck: GET /livez on the daemon's A2A port (a2a.port of config.yaml, read the way the daemon
reads it; --port overrides) on 127.0.0.1 (or --host); exit 0 on 200, else 1. For a container's
HEALTHCHECK.

Exit codes: 0 ok, 1 preflight/boot failure (or unhealthy), 2 usage error.
`;

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

/** The values of strict `parseArgs`; a usage error (exit 2) for anything it refuses. */
function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs<{ args: string[]; strict: true; options: T }>({ args, strict: true, options }).values;
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error));
  }
}

async function runHealthcheck(args: string[]): Promise<number> {
  const values = parseOptions(args, {
    config: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    usageError("--port needs a port number (1-65535)");
  }
  const timeoutMs = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    usageError("--timeout needs a positive number of milliseconds");
  }
  const result = await healthcheck({
    ...(values.config ? { configDir: values.config } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  (result.ok ? process.stdout : process.stderr).write(`${result.message}\n`);
  return result.ok ? 0 : 1;
}

async function runDaemonCommand(args: string[]): Promise<number> {
  const values = parseOptions(args, {
    config: { type: "string" },
    "workspace-dir": { type: "string" },
    grace: { type: "string" },
    host: { type: "string" },
    pretty: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const grace = values.grace === undefined ? undefined : Number(values.grace);
  if (grace !== undefined && !(Number.isFinite(grace) && grace > 0)) {
    usageError("--grace needs a positive number of seconds");
  }
  const workspaceDir = values["workspace-dir"];
  if (workspaceDir) {
    const { mkdir } = await import("node:fs/promises");
    try {
      await mkdir(workspaceDir, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      process.stderr.write(
        `molecule-runtime: cannot create the workspace directory ${workspaceDir} (${code}); point --workspace-dir at a writable volume\n`,
      );
      return 1;
    }
  }
  // The daemon is loaded only here, from the package's built entry point: a literal import would be
  // bundled into this file with every dependency hoisted to the top, and `healthcheck` (run by the
  // container engine every 30 s) would load all of them (~0.5 s, ~80 MB) instead of the config loader.
  const entry = "./index.js";
  const { runDaemon } = (await import(entry)) as typeof import("./daemon.js");
  return runDaemon({
    ...(values.config ? { configDir: values.config } : {}),
    ...(workspaceDir ? { workspaceDir } : {}),
    ...(grace !== undefined ? { graceMs: grace * 1000 } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values.pretty ? { pretty: true } : {}),
  });
}

const argv = process.argv.slice(2);
const command = argv[0] === "healthcheck" ? runHealthcheck(argv.slice(1)) : runDaemonCommand(argv);
void command.then((code) => process.exit(code));
