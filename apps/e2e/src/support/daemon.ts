import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rename, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLAUDE_BIN_DIR, isRunning, OFFLINE_CLAUDE_ENV, REPO_ROOT } from "@molecule/test-support";
import type { TestPlatform } from "@molecule/testkit";

/**
 * The built daemon's dist: these tests run what ships, not the sources. `MOLECULE_E2E_RUNTIME_DIST`
 * points them at another build (e.g. the last commit's, to see a new test fail before its fix).
 */
const RUNTIME_DIST = process.env.MOLECULE_E2E_RUNTIME_DIST ?? join(REPO_ROOT, "apps/runtime/dist");
/** The built daemon: these tests run what ships, not the sources. */
export const DAEMON_BIN = join(RUNTIME_DIST, "bin.js");
/** The built library entry (`runDaemon`), for tests that pass options the bin has no flag for. */
export const DAEMON_ENTRY = join(RUNTIME_DIST, "index.js");

/** One pino JSON line the daemon printed. */
export type LogLine = Record<string, unknown> & { event?: string; level?: string };

export interface StartDaemonOptions {
  platform: TestPlatform;
  /** config.yaml content (written as JSON, which YAML reads). Merged over the test defaults. */
  config?: Record<string, unknown>;
  /** Extra environment (undefined removes a default). */
  env?: Record<string, string | undefined>;
  /** `--grace` seconds. */
  grace?: number;
  /** A restart: the same workspace id and dirs (configs, state, HOME, workspace) as this earlier daemon. */
  restartOf?: Daemon;
  /** Wait for the `a2a.listening` line before resolving (default true). */
  waitListening?: boolean;
  /** Runs once the dirs exist, before the daemon starts (e.g. mount a small volume on the state dir). */
  beforeStart?: (dirs: { root: string; stateDir: string }) => Promise<void>;
  /**
   * Options of `runDaemon` the bin has no flag for (e.g. `http` limits): the built library entry is
   * started instead of the bin — `node -e "runDaemon(options)"` — still the built daemon in a child process.
   */
  runtimeOptions?: Record<string, unknown>;
}

export interface Daemon {
  readonly id: string;
  readonly root: string;
  readonly configsDir: string;
  readonly stateDir: string;
  readonly home: string;
  readonly workspaceDir: string;
  readonly child: ChildProcess;
  /** Every JSON log line, in order (a live array). */
  readonly logs: LogLine[];
  /** Everything the daemon wrote to stderr. */
  stderr(): string;
  /** Resolves when the daemon process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The bound A2A port (after `a2a.listening`). */
  port(): number;
  /** Base URL of the A2A listener on loopback. */
  base(): string;
  /** Waits for a log line matching `predicate` (already printed or future). */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

const daemons = new Set<Daemon>();
const cleanups: Array<() => Promise<void> | void> = [];

/** Runs `fn` in the next `stopAllDaemons()` (test cleanup). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

function defaultConfig(): Record<string, unknown> {
  return {
    name: "e2e-worker",
    runtime: "claude-code",
    prompt_files: [],
    a2a: { port: 0 },
    heartbeat: { interval_seconds: 0.5, jitter: 0 },
    delegation: { poll_interval_seconds: 60 },
  };
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    if (
      value &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      prev &&
      typeof prev === "object" &&
      !Array.isArray(prev)
    ) {
      out[key] = merge(prev as Record<string, unknown>, value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** A PATH with the repo's node_modules/.bin first (where `claude` lives), then this process's. */
export function repoPath(): string {
  return [CLAUDE_BIN_DIR, process.env.PATH ?? ""].join(":");
}

/**
 * Starts the BUILT daemon (`node apps/runtime/dist/bin.js`) as a child process against `platform`,
 * in fresh temp dirs: configs (config.yaml, .auth_token), state, HOME and the workspace dir.
 */
export async function startDaemon(options: StartDaemonOptions): Promise<Daemon> {
  const earlier = options.restartOf;
  const id = earlier?.id ?? randomUUID();
  const root = earlier?.root ?? (await realpath(await mkdtemp(join(tmpdir(), "molecule-e2e-"))));
  const configsDir = join(root, "configs");
  const stateDir = join(root, "state");
  const home = join(root, "home");
  const workspaceDir = join(root, "workspace");
  await Promise.all([configsDir, home, workspaceDir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const config = merge(defaultConfig(), options.config ?? {});
  await writeFile(join(configsDir, "config.yaml"), `${JSON.stringify(config, null, 2)}\n`);

  const env: Record<string, string> = {};
  const base: Record<string, string | undefined> = {
    PATH: repoPath(),
    HOME: home,
    TMPDIR: process.env.TMPDIR,
    WORKSPACE_ID: id,
    PLATFORM_URL: options.platform.url,
    WORKSPACE_CONFIG_PATH: configsDir,
    MOLECULE_STATE_DIR: stateDir,
    HOSTNAME: "localhost",
    LOG_LEVEL: "info",
    ...OFFLINE_CLAUDE_ENV,
    ANTHROPIC_API_KEY: "fake",
    // The daemon binds 0.0.0.0 (the bin's default) with a2a.auth: none: the harness opts in, as the
    // image does; a test of the refusal passes MOLECULE_A2A_ALLOW_UNAUTHENTICATED: undefined.
    MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1",
    ...options.env,
  };
  for (const [key, value] of Object.entries(base)) if (value !== undefined) env[key] = value;

  await options.beforeStart?.({ root, stateDir });
  let args = [DAEMON_BIN, "--workspace-dir", workspaceDir];
  if (options.grace !== undefined) args.push("--grace", String(options.grace));
  if (options.runtimeOptions) {
    const runOptions = {
      workspaceDir,
      ...(options.grace !== undefined ? { graceMs: options.grace * 1000 } : {}),
      ...options.runtimeOptions,
    };
    const launcher = `import(${JSON.stringify(DAEMON_ENTRY)}).then(({ runDaemon }) => runDaemon(${JSON.stringify(runOptions)})).then((code) => process.exit(code));`;
    args = ["--input-type=module", "-e", launcher];
  }
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });

  const logs: LogLine[] = [];
  const listeners = new Set<() => void>();
  let stderr = "";
  let pending = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    pending += chunk;
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
      try {
        const parsed: unknown = JSON.parse(line);
        if (parsed && typeof parsed === "object") logs.push(parsed as LogLine);
      } catch {
        logs.push({ event: "non-json", text: line });
      }
    }
    for (const l of [...listeners]) l();
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    child.on("exit", (code, signal) => {
      done({ code, signal });
      for (const l of [...listeners]) l();
    });
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((info) => {
    exitInfo = info;
  });

  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> =>
    new Promise((resolveWait, rejectWait) => {
      const check = () => {
        const found = logs.find(predicate);
        if (found) {
          finish();
          resolveWait(found);
        } else if (exitInfo) {
          finish();
          rejectWait(
            new Error(
              `daemon exited (${JSON.stringify(exitInfo)}) before the expected log line; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        rejectWait(
          new Error(
            `no matching daemon log line within ${timeoutMs} ms; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`,
          ),
        );
      }, timeoutMs);
      function finish() {
        clearTimeout(timer);
        listeners.delete(check);
      }
      listeners.add(check);
      check();
    });

  let port: number | undefined;
  const daemon: Daemon = {
    id,
    root,
    configsDir,
    stateDir,
    home,
    workspaceDir,
    child,
    logs,
    stderr: () => stderr,
    exited,
    port() {
      if (port === undefined) throw new Error("the daemon is not listening yet");
      return port;
    },
    base: () => `http://127.0.0.1:${daemon.port()}`,
    waitForLog,
  };
  daemons.add(daemon);
  if (options.waitListening !== false) await listening(daemon);
  return daemon;

  async function listening(d: Daemon) {
    const line = await d.waitForLog((l) => l.event === "a2a.listening");
    if (typeof line.port !== "number") throw new Error(`a2a.listening without a port: ${JSON.stringify(line)}`);
    port = line.port;
  }
}

/** Waits for the daemon's `a2a.listening` line and returns the port (for `waitListening: false`). */
export async function waitListening(daemon: Daemon): Promise<number> {
  const line = await daemon.waitForLog((l) => l.event === "a2a.listening");
  return Number(line.port);
}

/** Kills every daemon still running (SIGKILL), runs registered cleanups, removes temp dirs. */
export async function stopAllDaemons(): Promise<void> {
  const all = [...daemons];
  daemons.clear();
  await Promise.all(
    all.map(async (d) => {
      if (d.child.exitCode === null && d.child.signalCode === null) {
        d.child.kill("SIGKILL");
        await d.exited;
      }
    }),
  );
  for (const fn of cleanups.splice(0)) await fn();
  await Promise.all(all.map((d) => rm(d.root, { recursive: true, force: true })));
}

/** Writes `<configs>/.auth_token` the way a provisioner does: one line, 0600, atomically. */
export async function writeTokenFile(daemon: Daemon, token: string): Promise<void> {
  const file = join(daemon.configsDir, ".auth_token");
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Live processes whose working directory is `dir` (the agent and anything it started there). */
export function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir && isRunning(Number(entry))) found.push(Number(entry));
    } catch {
      // gone, or not ours to inspect
    }
  }
  return found;
}

/** Kills leftover pids (test cleanup; an assertion decides whether any were left). */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

// ---- HTTP to the daemon --------------------------------------------------------------------

export interface RpcResponse {
  jsonrpc?: string;
  id?: unknown;
  result?: { kind?: string; role?: string; parts?: Array<{ kind?: string; text?: string }> };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  text: string;
  json: T;
}

async function answer<T>(res: Response): Promise<HttpAnswer<T>> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as T };
}

/** POSTs a raw body to the daemon's A2A endpoint. */
export async function postRaw(daemon: Daemon, body: string | Uint8Array): Promise<HttpAnswer<RpcResponse>> {
  const res = await fetch(`${daemon.base()}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  return answer<RpcResponse>(res);
}

/** Sends one A2A `message/send` (as the platform forwards it) and returns the JSON-RPC answer. */
export async function sendMessage(
  daemon: Daemon,
  text: string,
  options: { method?: string; messageId?: string; contextId?: string } = {},
): Promise<RpcResponse> {
  const messageId = options.messageId ?? randomUUID();
  const context = options.contextId === undefined ? {} : { contextId: options.contextId };
  const res = await postRaw(
    daemon,
    JSON.stringify({
      jsonrpc: "2.0",
      id: randomUUID(),
      method: options.method ?? "message/send",
      params: {
        message: { role: "user", messageId, ...context, parts: [{ kind: "text", text }], metadata: { history: [] } },
      },
    }),
  );
  if (res.status !== 200) throw new Error(`A2A answered HTTP ${res.status}: ${res.text}`);
  return res.json;
}

/** The text of a successful reply. */
export function replyText(rpc: RpcResponse): string {
  if (rpc.error) throw new Error(`expected a reply, got JSON-RPC error ${JSON.stringify(rpc.error)}`);
  return (rpc.result?.parts ?? []).map((p) => p.text ?? "").join("");
}

export async function getJson<T = Record<string, unknown>>(daemon: Daemon, path: string): Promise<HttpAnswer<T>> {
  return answer<T>(await fetch(`${daemon.base()}${path}`));
}

/** One request to the daemon's admin socket (what `molecule status` uses). */
export function admin<T = Record<string, unknown>>(
  daemon: Daemon,
  method: string,
  path: string,
): Promise<{ status: number; json: T }> {
  return new Promise((resolveReq, rejectReq) => {
    const req = httpRequest({ socketPath: join(daemon.stateDir, "admin.sock"), method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolveReq({ status: res.statusCode ?? 0, json: JSON.parse(body) as T }));
    });
    req.on("error", rejectReq);
    req.end();
  });
}

/** The value of one Prometheus sample line (`name{labels} value`), or undefined. */
export function metricValue(text: string, name: string, labels = ""): number | undefined {
  const want = labels ? `${name}{${labels}}` : name;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    if (line.slice(0, space) === want) return Number(line.slice(space + 1));
  }
  return undefined;
}

/**
 * Claude Code's project dir for the daemon's workspace: `<HOME>/.claude/projects/<cwd with every
 * character outside [A-Za-z0-9] as "-">` (short temp paths: no hash suffix needed).
 */
export function projectDir(daemon: Daemon): string {
  return join(daemon.home, ".claude", "projects", daemon.workspaceDir.replace(/[^A-Za-z0-9]/g, "-"));
}

/**
 * Gives a session a transcript, as the real CLI would have written: the daemon resumes a
 * remembered session only when its transcript exists, and the fake agent writes none.
 */
export async function plantTranscript(daemon: Daemon, sessionId: string): Promise<void> {
  const dir = projectDir(daemon);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${sessionId}.jsonl`), `${JSON.stringify({ type: "user", sessionId })}\n`);
}
