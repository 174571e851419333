import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { RuntimeHandle } from "@molecule/runtime";
import type { FakeModelApi, ModelApiRequest, TestPlatform } from "@molecule/testkit";
import { CliError } from "../../errors.js";
import { type SendResult, sendMessage } from "../send.js";
import type { DevAgentHarness } from "./agent-harness.js";
import { type DevAgentRun, startDevAgent } from "./agent-setup.js";
import { setYamlValue } from "./yaml-edit.js";

/** The dev workspace's config.yaml comes from examples/workspace; these keys are adjusted on the copy. */
export interface ConfigEdits {
  /** `runtime_config.command` (an agent of our own, e.g. a fakeAgentCli) */
  command?: string;
  /** `runtime_config.timeout` seconds */
  turnTimeoutSeconds?: number;
}

export interface DevOptions {
  /** the example workspace to copy (default: examples/workspace of the repo holding this CLI) */
  config?: string;
  /** use the user's own login / ANTHROPIC_API_KEY and HOME instead of the fake model API */
  liveModel?: boolean;
  /** keep the temp dir after exit */
  keep?: boolean;
  /** heartbeat interval in seconds (default 1) */
  heartbeatSeconds?: number;
  /** drive this agent's real CLI instead of Claude Code's (`--agent`) */
  agent?: DevAgentHarness;
  /** run `runtime: adapter` with this module (an absolute path) instead of an agent (`--agent adapter`) */
  adapterModule?: string;
  /** one line of progress before anything runs (the agent CLI's first-run install) */
  onProgress?: (text: string) => void;
  /** aborts the agent CLI's install */
  signal?: AbortSignal;
}

/** What the platform sees of the dev workspace right now. */
export interface PlatformView {
  status: string;
  beatsOk: number;
  beatsRejected: number;
  runtimeState: string;
  errorRate: number;
  activeTasks: number;
  currentTask: string;
  degradedEvents: number;
}

/** Everything `molecule dev` runs, on loopback, in a temp dir. */
export interface DevSetup {
  readonly workspaceId: string;
  readonly dir: string;
  readonly configsDir: string;
  readonly stateDir: string;
  readonly home: string;
  readonly workspaceDir: string;
  readonly logFile: string;
  readonly platform: TestPlatform;
  /** the fake Anthropic API (Claude Code, unless live); undefined with `--agent` */
  readonly modelApi: FakeModelApi | undefined;
  /** the agent driven instead of Claude Code (`--agent`), with its fake model API */
  readonly agent: DevAgentRun | undefined;
  /** the adapter module `runtime_config.module` names (`--agent adapter`); no model API then */
  readonly adapterModule: string | undefined;
  readonly testkit: typeof import("@molecule/testkit");
  readonly runtimeModule: typeof import("@molecule/runtime");
  /** env the daemon (and its agent) run with */
  env: NodeJS.ProcessEnv;
  runtime: RuntimeHandle | undefined;
  /** Rewrites the copied config.yaml. */
  editConfig(edits: ConfigEdits): Promise<void>;
  /** Starts the daemon in-process (startRuntime) with the current env and config. */
  startDaemon(): Promise<RuntimeHandle>;
  /** One message through the real A2A path (HTTP POST to the daemon). */
  send(text: string, timeoutMs?: number): Promise<SendResult>;
  view(): PlatformView;
  /** The earlier turns the fake model saw in its last request carrying `text` (undefined: none, or live). */
  earlierTurns(text: string): number | undefined;
  /** Waits until the platform has taken a beat that arrived after `sinceMs`. */
  nextBeat(sinceMs: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Walks up from `start` to the directory holding examples/workspace/config.yaml. */
export function findExampleWorkspace(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "examples", "workspace");
    if (existsSync(join(candidate, "config.yaml"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The real Claude Code CLI installed with this CLI (@anthropic-ai/claude-code's bin/claude.exe). */
export function findClaudeBinary(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve("@anthropic-ai/claude-code/package.json");
    const bin = join(dirname(pkg), "bin", "claude.exe");
    if (existsSync(bin)) return bin;
  } catch {
    // not installed next to this CLI
  }
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [
    join(here, "..", "node_modules", ".bin", "claude"),
    join(here, "..", "..", "node_modules", ".bin", "claude"),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const PASS_THROUGH = ["LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "TMPDIR", "SYSTEMROOT"];

/** Counts the earlier turns the model was shown: the assistant messages in the request's conversation. */
export function earlierTurns(request: ModelApiRequest | undefined): number {
  const body = request?.body;
  if (typeof body !== "object" || body === null || !("messages" in body) || !Array.isArray(body.messages)) return 0;
  return body.messages.filter(
    (m: unknown) => typeof m === "object" && m !== null && "role" in m && m.role === "assistant",
  ).length;
}

/** Starts the testkit platform and (unless live) the fake model API, and prepares a workspace copy. */
export async function createDevSetup(
  options: DevOptions,
  parentEnv: Readonly<Record<string, string | undefined>>,
): Promise<DevSetup> {
  const here = dirname(fileURLToPath(import.meta.url));
  const example =
    options.config !== undefined
      ? resolve(options.config)
      : (findExampleWorkspace(here) ?? findExampleWorkspace(process.cwd()));
  if (example === undefined || !existsSync(join(example, "config.yaml"))) {
    throw new CliError({
      code: "E_DEV_EXAMPLE_MISSING",
      message: `no example workspace found${example ? ` (${join(example, "config.yaml")} is missing)` : ""}; run from the repository, or pass --config DIR (a directory holding config.yaml)`,
    });
  }
  const noClaude = options.agent !== undefined || options.adapterModule !== undefined;
  const claude = noClaude ? undefined : findClaudeBinary();
  if (!noClaude && claude === undefined) {
    throw new CliError({
      code: "E_DEV_CLAUDE_MISSING",
      message:
        "the Claude Code CLI is not installed (it is an optional peer of @molecule/cli); run `npm install -g @anthropic-ai/claude-code@2.1.197`, or `pnpm install` at the repository root",
    });
  }

  // Loaded only by `molecule dev`: neither is bundled into the CLI.
  const [testkit, runtimeModule] = await Promise.all([import("@molecule/testkit"), import("@molecule/runtime")]);

  const dir = await mkdtemp(join(tmpdir(), "molecule-dev-"));
  const configsDir = join(dir, "configs");
  const stateDir = join(dir, "state");
  const home = options.liveModel ? (parentEnv.HOME ?? join(dir, "home")) : join(dir, "home");
  const workspaceDir = join(dir, "workspace");
  const binDir = join(dir, "bin");
  const logFile = join(tmpdir(), `${dir.split(/[\\/]/).pop() ?? "molecule-dev"}.log`);
  await cp(example, configsDir, { recursive: true, filter: (src) => !src.includes(`${join(example, ".molecule")}`) });
  await rm(join(configsDir, ".auth_token"), { force: true });
  await Promise.all([
    mkdir(stateDir, { recursive: true, mode: 0o700 }),
    mkdir(workspaceDir, { recursive: true }),
    mkdir(binDir, { recursive: true }),
    options.liveModel ? Promise.resolve() : mkdir(home, { recursive: true, mode: 0o700 }),
  ]);
  if (claude !== undefined) await symlink(claude, join(binDir, "claude"));
  const agent = options.agent
    ? await startDevAgent(options.agent, testkit, {
        parentEnv,
        home,
        stateDir,
        onProgress: options.onProgress ?? (() => undefined),
        signal: options.signal,
      }).catch(async (error: unknown) => {
        await rm(dir, { recursive: true, force: true });
        throw error;
      })
    : undefined;

  const configFile = join(configsDir, "config.yaml");
  let yaml = await readFile(configFile, "utf8");
  yaml = setYamlValue(yaml, "a2a", "port", "0");
  yaml = setYamlValue(yaml, "heartbeat", "interval_seconds", String(options.heartbeatSeconds ?? 1));
  // The A2A port asks for a token of dev's own (a2a.auth: bearer), as a deployment may: send uses it.
  const a2aToken = randomBytes(32).toString("base64url");
  await writeFile(join(configsDir, ".a2a_token"), `${a2aToken}\n`, { mode: 0o600 });
  yaml = setYamlValue(yaml, "a2a", "auth", "bearer");
  yaml = setYamlValue(yaml, "a2a", "auth_token_file", ".a2a_token");
  if (agent) {
    yaml = /^runtime:/m.test(yaml)
      ? yaml.replace(/^runtime:.*$/m, `runtime: ${agent.harness.id}`)
      : `${yaml}runtime: ${agent.harness.id}\n`;
    if (agent.bin !== undefined) yaml = setYamlValue(yaml, "runtime_config", "command", JSON.stringify(agent.bin));
    if (agent.harness.model) yaml = setYamlValue(yaml, "runtime_config", "model", JSON.stringify(agent.harness.model));
    yaml = setYamlValue(yaml, "runtime_config", "base_url", JSON.stringify(agent.api.url));
  } else if (options.adapterModule !== undefined) {
    yaml = yaml.replace(/^runtime:.*$/m, "runtime: adapter");
    yaml = setYamlValue(yaml, "runtime_config", "module", JSON.stringify(options.adapterModule));
  }
  await writeFile(configFile, yaml);
  const baseYaml = yaml;

  const platform = await testkit.startTestPlatform();
  const modelApi =
    options.liveModel || agent || options.adapterModule !== undefined
      ? undefined
      : await testkit.startFakeModelApi({
          reply: (request) => {
            const earlier = earlierTurns(request);
            return earlier === 0
              ? "Hello from the fake model API: this is a fresh conversation (no earlier turns)."
              : `Hello again from the fake model API: I can see ${earlier} earlier turn${earlier === 1 ? "" : "s"} of this conversation.`;
          },
        });

  const workspaceId = randomUUID();
  const path = [binDir, dirname(process.execPath), parentEnv.PATH ?? "/usr/bin:/bin"].join(delimiter);
  const common: NodeJS.ProcessEnv = {
    WORKSPACE_ID: workspaceId,
    PLATFORM_URL: platform.url,
    HOSTNAME: "localhost",
    WORKSPACE_CONFIG_PATH: configsDir,
    CONFIGS_DIR: configsDir,
    MOLECULE_STATE_DIR: stateDir,
    LOG_LEVEL: "info",
    HOME: home,
    PATH: path,
    DISABLE_TELEMETRY: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  };
  let env: NodeJS.ProcessEnv;
  if (options.liveModel) {
    env = { ...parentEnv, ...common };
  } else if (agent || options.adapterModule !== undefined) {
    env = agent ? { ...common, ...agent.harness.env, [agent.keyEnv]: "molecule-dev-fake-key" } : { ...common };
    for (const name of PASS_THROUGH) {
      const value = parentEnv[name];
      if (value !== undefined) env[name] = value;
    }
  } else {
    env = { ...common, ANTHROPIC_BASE_URL: modelApi?.url ?? "", ANTHROPIC_API_KEY: "molecule-dev-fake-key" };
    for (const name of PASS_THROUGH) {
      const value = parentEnv[name];
      if (value !== undefined) env[name] = value;
    }
  }

  // The daemon's own logger (pino, redacted), writing to the log file so the screen stays clean.
  const loggers: Array<{ flush(): void }> = [];
  const setup: DevSetup = {
    workspaceId,
    dir,
    configsDir,
    stateDir,
    home,
    workspaceDir,
    logFile,
    platform,
    modelApi,
    agent,
    adapterModule: options.adapterModule,
    testkit,
    runtimeModule,
    env,
    runtime: undefined,
    async editConfig(edits) {
      let text = baseYaml;
      if (edits.command !== undefined)
        text = setYamlValue(text, "runtime_config", "command", JSON.stringify(edits.command));
      if (edits.turnTimeoutSeconds !== undefined) {
        text = setYamlValue(text, "runtime_config", "timeout", String(edits.turnTimeoutSeconds));
      }
      await writeFile(configFile, text);
    },
    async startDaemon() {
      const logger = runtimeModule.createLogger({ level: "info", file: logFile });
      loggers.push(logger);
      const handle = await runtimeModule.startRuntime({
        env: setup.env,
        configDir: configsDir,
        workspaceDir,
        logger,
        host: "127.0.0.1",
        port: 0,
        graceMs: 5_000,
      });
      setup.runtime = handle;
      return handle;
    },
    send(text, timeoutMs = 120_000) {
      if (!setup.runtime) throw new Error("the daemon is not running");
      return sendMessage(`http://127.0.0.1:${setup.runtime.port}/`, text, {
        timeoutMs,
        headers: { authorization: `Bearer ${a2aToken}` },
      });
    },
    view() {
      const ws = platform.workspaces.get(workspaceId);
      const beats = platform.control.beats(workspaceId);
      return {
        status: ws?.status ?? "unknown",
        beatsOk: beats.filter((b) => b.status === 200).length,
        beatsRejected: beats.filter((b) => b.status !== 200).length,
        runtimeState: ws?.runtimeState ?? "",
        errorRate: ws?.errorRate ?? 0,
        activeTasks: ws?.activeTasks ?? 0,
        currentTask: ws?.currentTask ?? "",
        degradedEvents: platform.events.filter((e) => e.workspaceId === workspaceId && e.type === "WORKSPACE_DEGRADED")
          .length,
      };
    },
    earlierTurns(text) {
      if (agent) return agent.api.earlierTurns(text);
      const last = [...(modelApi?.messages() ?? [])].reverse().find((r) => JSON.stringify(r.body).includes(text));
      return last === undefined ? undefined : earlierTurns(last);
    },
    async nextBeat(sinceMs, timeoutMs = 10_000) {
      await platform.control.waitFor(
        () => platform.control.beats(workspaceId).some((b) => b.at >= sinceMs && b.status === 200),
        timeoutMs,
      );
    },
    async close() {
      const runtime = setup.runtime;
      setup.runtime = undefined;
      if (runtime) await runtime.stop("molecule dev exiting").catch(() => undefined);
      await Promise.allSettled([platform.close(), modelApi?.close(), agent?.api.close()]);
      for (const logger of loggers) logger.flush();
      if (!options.keep) await rm(dir, { recursive: true, force: true });
    },
  };
  return setup;
}
