import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import type { WorkspaceConfig } from "@molecule/config";
import { type Clock, oneLine, realClock } from "@molecule/internal";
import { type CheckIssue, peerRangeIssues } from "@molecule/preflight";
import type { SessionStore } from "@molecule/session";
import { name as RUNTIME_PACKAGE, version as RUNTIME_VERSION } from "../../package.json";
import type { Executor } from "../executor.js";
import type { AgentGroupListener } from "../executors/process.js";
import type { Logger } from "../logger.js";
import { isPathSpec, resolveAdapter } from "./resolve.js";

/**
 * What the daemon hands an adapter module's `createExecutor(context)`: what the built-in executors
 * get. Called once at boot, after preflight's config checks and before the daemon goes live.
 */
export interface AdapterContext {
  /** config.yaml, parsed, defaults filled (`model`, `runtime_config.base_url`, `args`, `timeout`… are the adapter's to use). */
  readonly config: WorkspaceConfig;
  /** The directory the agent works in (its cwd), absolute. */
  readonly workspaceDir: string;
  /** The directory holding config.yaml (prompt files, skills), absolute. */
  readonly configDir: string;
  /** A directory of the adapter's own inside the daemon's state dir (mode 0700, kept across restarts). */
  readonly stateDir: string;
  /** The daemon's environment. Pass it (plus what your agent needs) to processes you start; never change it. */
  readonly env: NodeJS.ProcessEnv;
  /** The daemon's logger: every line is masked for secrets. */
  readonly logger: Logger;
  /** Where the default context's agent session id lives; a turn of another context brings its own (`turn.session`). */
  readonly sessionStore: SessionStore;
  /**
   * Report each process group you start (`started(pgid)` / `ended(pgid)`; `createCommandExecutor`
   * takes it as `groups`): a daemon killed with -9 then ends them at its next boot, so nothing is orphaned.
   */
  readonly groups: AgentGroupListener;
}

/** The env var naming the adapter module; it wins over `runtime_config.module` (loadConfig applies it). @internal */
export const ADAPTER_MODULE_ENV = "MOLECULE_ADAPTER_MODULE";

/** The runtime that loads an adapter module (preflight's list of runtimes has it too). @internal */
export const ADAPTER_RUNTIME = "adapter";

/** The report row of the adapter module itself (and preflight's config row): an adapter's checks take other names. @internal */
export const ADAPTER_CHECK = "adapter";
const RESERVED_CHECKS = ["config", ADAPTER_CHECK];

/** How long importing the module, and then `createExecutor(context)`, may each take by default, ms. @internal */
export const ADAPTER_FACTORY_TIMEOUT_MS = 30_000;

/** A loaded adapter: its executor, or the one failing issue; peer-range warnings either way. @internal */
export type AdapterLoad =
  | { ok: true; executor: Executor; detail: string; warnings: CheckIssue[] }
  | { ok: false; failure: CheckIssue; warnings: CheckIssue[] };

export interface LoadAdapterOptions {
  config: WorkspaceConfig;
  env: NodeJS.ProcessEnv;
  /** What the factory gets. */
  context: AdapterContext;
  /** Masks secrets in the text of an error the module or its factory threw. */
  mask: (text: string) => string;
  clock?: Clock;
  factoryTimeoutMs?: number;
  /** Where the daemon's own install is (default: this module's file). */
  selfFile?: string;
}

const fail = (code: string, title: string, detail: string, fix: string): CheckIssue => ({
  severity: "fail",
  code,
  title,
  detail,
  fix,
});

/** `a string`, `null`, `an object with keys a, b` — what a value is, for a report. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object") {
    const keys = Object.keys(value);
    return keys.length === 0 ? "an empty object" : `an object with ${keys.slice(0, 8).join(", ")}`;
  }
  if (typeof value === "function") return "a function";
  return value === undefined ? "undefined" : `a ${typeof value}`;
}

/** The module's exports, as a report names them: `run, default (an object with name, start)`. */
function exportsOf(mod: Record<string, unknown>): string {
  const names = Object.keys(mod)
    .sort()
    .map((key) =>
      key === "default" && mod.default !== null && typeof mod.default === "object"
        ? `default (${describe(mod.default)})`
        : key,
    );
  return names.length === 0 ? "nothing" : names.join(", ");
}

/** `createExecutor`, named or on the default export (a CJS `module.exports`, or a compiled `exports.default`). */
function factoryOf(mod: Record<string, unknown>): unknown {
  const fromDefault = (value: unknown): unknown =>
    value !== null && (typeof value === "object" || typeof value === "function")
      ? (value as Record<string, unknown>).createExecutor
      : undefined;
  const inner = mod.default !== null && typeof mod.default === "object" ? (mod.default as { default?: unknown }) : {};
  return mod.createExecutor ?? fromDefault(mod.default) ?? fromDefault(inner.default);
}

/** Why `value` is not an Executor, or undefined when it is one. */
function notAnExecutor(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return `it returned ${describe(value)}`;
  const { name, runTurn, checks, close } = value as Record<string, unknown>;
  if (typeof name !== "string" || name.trim() === "") return `it returned ${describe(value)}, without a name`;
  if (typeof runTurn !== "function") return `executor ${JSON.stringify(name)} has no runTurn function`;
  if (close !== undefined && typeof close !== "function")
    return `executor ${JSON.stringify(name)}: close is not a function`;
  const badCheck = (check: unknown) =>
    check === null ||
    typeof check !== "object" ||
    typeof (check as { name?: unknown }).name !== "string" ||
    typeof (check as { run?: unknown }).run !== "function";
  if (checks !== undefined && (!Array.isArray(checks) || checks.some(badCheck))) {
    return `executor ${JSON.stringify(name)}: checks is not an array of checks ({ name, run }, e.g. defineCheck's)`;
  }
  const names = ((checks ?? []) as { name: string }[]).map((check) => check.name);
  const taken = names.find((n, i) => RESERVED_CHECKS.includes(n) || names.indexOf(n) !== i);
  if (taken !== undefined) {
    return `executor ${JSON.stringify(name)}: two checks are named ${JSON.stringify(taken)} (or it is one of ${RESERVED_CHECKS.join(", ")}); give each check its own name`;
  }
  return undefined;
}

/** A peer range on @molecule/runtime in the adapter's package.json that this version is outside of: warnings. */
async function peerWarnings(packageJson: string | undefined, file: string): Promise<CheckIssue[]> {
  if (packageJson === undefined) return [];
  let pkg: { name?: unknown; version?: unknown; peerDependencies?: Record<string, unknown> };
  try {
    pkg = JSON.parse(await readFile(packageJson, "utf8"));
  } catch {
    return [];
  }
  const range = pkg?.peerDependencies?.[RUNTIME_PACKAGE];
  if (typeof range !== "string") return [];
  const dependent =
    typeof pkg.name === "string" ? `${pkg.name}${typeof pkg.version === "string" ? ` ${pkg.version}` : ""}` : file;
  return peerRangeIssues({ dependent, peer: RUNTIME_PACKAGE, range, version: RUNTIME_VERSION });
}

/** Closes an executor nobody will use, whatever it is; never throws. */
function closeQuietly(value: unknown): void {
  const close = value !== null && typeof value === "object" ? (value as { close?: unknown }).close : undefined;
  if (typeof close === "function")
    void Promise.resolve()
      .then(() => close.call(value))
      .catch(() => undefined);
}

/** Runs `work`; one that never settles fails after `ms` (a value it settles with later goes to `late`). */
function settleWithin(
  work: () => unknown,
  clock: Clock,
  ms: number,
  late: (value: unknown) => void = () => undefined,
): Promise<{ value: unknown } | { error: unknown } | { timeout: true }> {
  return new Promise((settle) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      done = true;
      settle({ timeout: true });
    }, ms);
    const finish = (result: { value: unknown } | { error: unknown }) => {
      if (done) {
        if ("value" in result) late(result.value);
        return;
      }
      done = true;
      clock.clearTimeout(timer);
      settle(result);
    };
    Promise.resolve()
      .then(work)
      .then(
        (value) => finish({ value }),
        (error: unknown) => finish({ error }),
      );
  });
}

/**
 * Loads the adapter module `runtime_config.module` names (`MOLECULE_ADAPTER_MODULE` has already won
 * in loadConfig), calls its `createExecutor(context)` once and checks what it returned. Never throws:
 * each way it can go wrong is a failing issue — `E_ADAPTER_NOT_FOUND` (naming every place it looked),
 * `E_ADAPTER_SHAPE` (naming the exports it found), `E_ADAPTER_FAILED` (the module or the factory
 * threw, masked, or returned no executor) — and a peer range on @molecule/runtime that this version
 * is outside of is a warning. @internal
 */
export async function loadAdapter(options: LoadAdapterOptions): Promise<AdapterLoad> {
  const { config, env, context, mask } = options;
  const spec = config.runtime_config.module;
  const from = env[ADAPTER_MODULE_ENV]?.trim() ? ADAPTER_MODULE_ENV : "runtime_config.module";
  const cause = (error: unknown) =>
    oneLine(mask(error instanceof Error ? `${error.name}: ${error.message}` : String(error)), 400);
  if (spec === undefined) {
    const failure = fail(
      "E_ADAPTER_NOT_FOUND",
      "No adapter module named",
      `runtime is adapter, but neither ${ADAPTER_MODULE_ENV} nor runtime_config.module names a module`,
      "Set runtime_config.module in config.yaml to the adapter package's name (or a path relative to the config dir), or set MOLECULE_ADAPTER_MODULE.",
    );
    return { ok: false, failure, warnings: [] };
  }
  const found = await resolveAdapter(spec, {
    configDir: context.configDir,
    ...(options.selfFile ? { selfFile: options.selfFile } : {}),
  });
  if (!found.found) {
    const fix = isPathSpec(spec)
      ? `Put the adapter module at ${found.looked[0]}, or correct ${from} (a path is relative to the config dir ${context.configDir}).`
      : `Install it where the daemon looks: npm install ${spec} in ${context.configDir}, or npm install -g ${spec} beside a global ${RUNTIME_PACKAGE}; or set ${from} to the installed package's absolute path (e.g. /opt/adapters/node_modules/${spec}).`;
    const failure = fail(
      "E_ADAPTER_NOT_FOUND",
      "Adapter module not found",
      `${spec} (${from}): looked in ${found.looked.join(", ")}`,
      fix,
    );
    return { ok: false, failure, warnings: [] };
  }
  const warnings = await peerWarnings(found.packageJson, found.file);
  const failed = (title: string, detail: string, fix: string) => ({
    ok: false as const,
    failure: fail("E_ADAPTER_FAILED", title, detail, fix),
    warnings,
  });

  const clock = options.clock ?? realClock;
  const ms = options.factoryTimeoutMs ?? ADAPTER_FACTORY_TIMEOUT_MS;
  const url = pathToFileURL(found.file).href;
  const imported = await settleWithin(() => import(url), clock, ms);
  if (!("value" in imported)) {
    const what = "error" in imported ? `threw ${cause(imported.error)}` : `did not finish within ${ms / 1000} s`;
    return failed(
      "Adapter module failed to load",
      `importing ${found.file} (${spec}) ${what}`,
      `Fix the module so that it loads (node -e 'import("${url}")' shows the error), and install any dependency it names.`,
    );
  }
  const mod = imported.value as Record<string, unknown>;
  const factory = factoryOf(mod);
  if (typeof factory !== "function") {
    const found_ = factory === undefined ? "" : ` (createExecutor is ${describe(factory)})`;
    const failure = fail(
      "E_ADAPTER_SHAPE",
      "Adapter module has no createExecutor",
      `${found.file} (${spec}) exports ${exportsOf(mod)}${found_}; the daemon needs a createExecutor(context) function`,
      "Export a function createExecutor(context) from the module (named, or on its default export) that returns an Executor ({ name, runTurn }) or a Promise of one.",
    );
    return { ok: false, failure, warnings };
  }
  const result = await settleWithin(
    () => (factory as (context: AdapterContext) => unknown)(context),
    clock,
    ms,
    closeQuietly,
  );
  if ("timeout" in result) {
    return failed(
      "Adapter's createExecutor did not return",
      `${spec}: createExecutor(context) did not settle within ${ms / 1000} s`,
      "Make createExecutor return promptly: start long work in the executor's first turn or its checks.",
    );
  }
  if ("error" in result) {
    return failed(
      "Adapter's createExecutor failed",
      `${spec}: createExecutor(context) threw ${cause(result.error)}`,
      "Fix what the adapter's error names (its configuration, credentials or environment); the daemon calls createExecutor(context) once at boot.",
    );
  }
  const why = notAnExecutor(result.value);
  if (why !== undefined) {
    return failed(
      "Adapter's createExecutor returned no executor",
      `${spec}: createExecutor(context) returned no Executor: ${why}`,
      "Return an Executor from createExecutor: { name, runTurn(turn) } (checks and close are optional).",
    );
  }
  const executor = result.value as Executor;
  return { ok: true, executor, detail: `${spec} → ${found.file} (executor ${executor.name})`, warnings };
}
