import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Settings, WorkspaceConfig } from "@molecule/config";
import { defineCheck, renderReport, runPreflight } from "@molecule/preflight";
import type { SessionStore } from "@molecule/session";
import { RuntimeError } from "../errors.js";
import type { Executor } from "../executor.js";
import type { AgentGroupListener } from "../executors/process.js";
import type { Logger } from "../logger.js";
import { ADAPTER_CHECK, type AdapterLoad, loadAdapter } from "./load.js";

export interface BootAdapterOptions {
  config: WorkspaceConfig;
  env: NodeJS.ProcessEnv;
  settings: Settings;
  configDir: string;
  workspaceDir: string;
  stateDir: string;
  log: Logger;
  sessionStore: SessionStore;
  groups: AgentGroupListener;
  /** The daemon's masker for log lines and errors. */
  mask: (text: string) => string;
  /** How long the import, then createExecutor, may each take (default 30 s). */
  factoryTimeoutMs?: number;
}

/** The `adapter` report row: the module's load, its factory and its peer range. @internal */
export function adapterCheck(load: AdapterLoad) {
  return defineCheck({
    name: ADAPTER_CHECK,
    needsConfig: false,
    run: () =>
      load.ok ? { detail: load.detail, issues: load.warnings } : { issues: [load.failure, ...load.warnings] },
  });
}

/**
 * `runtime: adapter` at boot, once the state dir is ready (the factory may start processes): loads
 * the module and calls its `createExecutor(context)` once, then preflight runs the `adapter` row and
 * the executor's own `checks` — a failure is `E_PREFLIGHT` with the report (exit 1), as for the
 * config checks before it; warnings are logged. Resolves to the executor the daemon then uses. @internal
 */
export async function bootAdapter(options: BootAdapterOptions): Promise<Executor> {
  const { config, env, log } = options;
  const stateDir = join(options.stateDir, "adapter");
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700).catch(() => undefined);
  const load = await loadAdapter({
    config,
    env,
    mask: options.mask,
    ...(options.factoryTimeoutMs ? { factoryTimeoutMs: options.factoryTimeoutMs } : {}),
    context: {
      config,
      workspaceDir: options.workspaceDir,
      configDir: options.configDir,
      stateDir,
      env,
      logger: log,
      sessionStore: options.sessionStore,
      groups: options.groups,
    },
  });
  const checks = [adapterCheck(load), ...(load.ok ? (load.executor.checks ?? []) : [])];
  const report = await runPreflight(checks, {
    env,
    settings: options.settings,
    configDir: options.configDir,
    workspaceDir: options.workspaceDir,
    logger: log,
    config,
  });
  if (!report.ok) {
    if (load.ok)
      await Promise.resolve()
        .then(() => load.executor.close?.())
        .catch(() => undefined);
    throw new RuntimeError({ code: "E_PREFLIGHT", message: renderReport(report, { color: false }), report });
  }
  for (const warning of report.warnings) {
    log.warn(
      { event: "preflight.warning", check: warning.check, code: warning.code },
      `${warning.title}: ${warning.detail}`,
    );
  }
  const executor = (load as Extract<AdapterLoad, { ok: true }>).executor;
  log.info(
    { event: "adapter.loaded", executor: executor.name },
    report.checks.find((check) => check.name === ADAPTER_CHECK)?.detail ?? "adapter loaded",
  );
  return executor;
}
