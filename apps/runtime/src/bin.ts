#!/usr/bin/env node
import { parseArgs } from "node:util";
import { runDaemon } from "./daemon.js";

const USAGE = `Usage: molecule-runtime [--config DIR] [--workspace-dir DIR] [--grace SECONDS] [--host ADDR] [--pretty]

Runs the Molecule workspace daemon. Settings come from the environment (WORKSPACE_ID,
PLATFORM_URL, WORKSPACE_CONFIG_PATH, CONFIGS_DIR, MOLECULE_STATE_DIR, MOLECULE_ADVERTISE_URL,
MOLECULE_ORG_ID, LOG_LEVEL). --host is the interface to bind (default 0.0.0.0). Exit codes: 0 ok, 1 preflight/boot failure, 2 usage error.
`;

let values: {
  config?: string;
  "workspace-dir"?: string;
  grace?: string;
  host?: string;
  pretty?: boolean;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      config: { type: "string" },
      "workspace-dir": { type: "string" },
      grace: { type: "string" },
      host: { type: "string" },
      pretty: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const grace = values.grace === undefined ? undefined : Number(values.grace);
if (grace !== undefined && !(Number.isFinite(grace) && grace > 0)) {
  process.stderr.write(`--grace needs a positive number of seconds\n\n${USAGE}`);
  process.exit(2);
}

void runDaemon({
  ...(values.config ? { configDir: values.config } : {}),
  ...(values["workspace-dir"] ? { workspaceDir: values["workspace-dir"] } : {}),
  ...(grace !== undefined ? { graceMs: grace * 1000 } : {}),
  ...(values.host ? { host: values.host } : {}),
  ...(values.pretty ? { pretty: true } : {}),
}).then((code) => process.exit(code));
