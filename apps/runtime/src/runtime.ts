import { chmod, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createTokenStore, getAgent } from "@molecule/auth";
import {
  ConfigError,
  loadConfig,
  resolveAdvertiseUrl,
  resolveSettings,
  type Settings,
  type WorkspaceConfig,
} from "@molecule/config";
import { createTaskTracker } from "@molecule/heartbeat";
import { createPreflightGate, type PreflightReport, renderReport, runPreflight } from "@molecule/preflight";
import { createSessionStore } from "@molecule/session";
import { createConversations } from "./a2a/contexts.js";
import { assertInboundPolicy, createInboundAuth } from "./a2a/inbound-auth.js";
import { createA2AService } from "./a2a/service.js";
import { openTaskRecords } from "./a2a/task-store.js";
import { bootAdapter } from "./adapter/boot.js";
import { ADAPTER_RUNTIME } from "./adapter/load.js";
import { listenAdmin } from "./admin/server.js";
import { agentCard } from "./agent-card.js";
import { chooseExecutor, turnTimeoutSeconds } from "./choose-executor.js";
import { RuntimeError } from "./errors.js";
import type { Executor } from "./executor.js";
import { bootChecks, readinessChecks } from "./executor-checks.js";
import type { ServerLimits } from "./http-limits.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { type PlatformLoops, startPlatformLoops } from "./platform-loops.js";
import { startPrompts } from "./prompts.js";
import { createSecrets, maskingLogger } from "./redact.js";
import { createRegistrar, type Registrar, registerAtBoot } from "./register.js";
import { createScheduler } from "./scheduler.js";
import { serveA2A } from "./serve.js";
import { createShutdown } from "./shutdown.js";
import { prepareStateDir } from "./state-dir-boot.js";
import { rememberingSessionStore } from "./state-dir-health.js";
import { createStatus, type RuntimeStatus } from "./status.js";
import { createTurnRunner } from "./turns.js";
import { keepWasmOnBaseline } from "./wasm-baseline.js";

export type { RuntimeStatus };

export interface RuntimeOptions {
  /** Environment to resolve settings from (default `process.env`). The agent inherits it too. */
  env?: NodeJS.ProcessEnv;
  /** The config directory; overrides `WORKSPACE_CONFIG_PATH`. */
  configDir?: string;
  /** The directory the agent works in (its cwd). Default: `process.cwd()`. */
  workspaceDir?: string;
  /** An executor of your own; default: the built-in one for `config.runtime`. */
  executor?: Executor;
  /** A pino logger; default: JSON lines on stdout at `LOG_LEVEL`. */
  logger?: Logger;
  /** Pretty log output (default: when stdout is a TTY). */
  pretty?: boolean;
  /** Whole shutdown budget in ms (default 10 000). */
  graceMs?: number;
  /** Interface to bind (default `0.0.0.0`). */
  host?: string;
  /** Override `a2a.port` from the config (0 = a free port). */
  port?: number;
  /**
   * How long a request may take to arrive on the daemon's servers (headers, whole request, idle
   * keep-alive; defaults 60 s, 60 s, 65 s). A response may take as long as the turn. The connection
   * cap is `a2a.max_connections` unless given here.
   */
  http?: ServerLimits;
  /**
   * Aborting it shuts the daemon down. During boot (e.g. still retrying register while the platform
   * is down) the boot stops cleanly and `startRuntime` rejects with `E_BOOT_ABORTED`.
   */
  signal?: AbortSignal;
}

export interface RuntimeHandle {
  /** The URL the workspace advertises to the platform. */
  readonly url: string;
  /** The bound A2A port. */
  readonly port: number;
  /** The admin socket path (for `molecule status`). */
  readonly adminSocket: string;
  status(): RuntimeStatus;
  /** Graceful shutdown within the grace budget; resolves when everything is closed. */
  stop(reason?: string): Promise<void>;
}

/** Settings, config and preflight: one report, a fix for each failure (`E_PREFLIGHT`); warnings are logged. */
async function checkWorkspace(
  env: NodeJS.ProcessEnv,
  settings: Settings,
  log: Logger,
  executor: Executor | undefined,
  workspaceDir: string,
): Promise<WorkspaceConfig> {
  const ctxBase = { env, settings, configDir: settings.configPath, workspaceDir, logger: log };
  let config: WorkspaceConfig | undefined;
  try {
    const loaded = await loadConfig(settings.configPath, { env });
    config = loaded.config;
    // Preflight is given the loaded config, so the loader's warnings (a misspelt key) are reported here.
    for (const w of loaded.warnings) {
      const where = w.line === undefined ? "" : ` (line ${w.line})`;
      log.warn(
        {
          event: "preflight.warning",
          check: "config",
          code: w.code,
          field: w.field,
          ...(w.line ? { line: w.line } : {}),
        },
        `config.yaml${where}: ${w.message} — ${w.fix}`,
      );
    }
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    // runPreflight loads it again as its first check and reports the error with its fix.
  }
  const report: PreflightReport = config
    ? await runPreflight(bootChecks(config, executor), { ...ctxBase, config })
    : await runPreflight(bootChecks(undefined, executor), ctxBase);
  if (!report.ok || !config) {
    throw new RuntimeError({ code: "E_PREFLIGHT", message: renderReport(report, { color: false }), report });
  }
  for (const warning of report.warnings) {
    log.warn(
      { event: "preflight.warning", check: warning.check, code: warning.code },
      `${warning.title}: ${warning.detail}`,
    );
  }
  return config;
}

/** Runs the daemon's whole life (docs/ARCHITECTURE.md, "A boot") and resolves once it serves. */
export async function startRuntime(options: RuntimeOptions = {}): Promise<RuntimeHandle> {
  keepWasmOnBaseline(); // no ~30 MB transient at boot for optimizing undici's parser (wasm-baseline.ts)
  const env = options.env ?? process.env;
  const started = Date.now();
  const { settings } = resolveSettings(options.configDir ? { ...env, WORKSPACE_CONFIG_PATH: options.configDir } : env);
  // Every line is masked with every secret the daemon knows (its env's credentials at once; the
  // platform token and the agent's credentials file once known), whatever logger it was given.
  const secrets = createSecrets(env);
  const log: Logger = maskingLogger(
    options.logger ??
      createLogger({ level: settings.logLevel, pretty: options.pretty ?? Boolean(process.stdout.isTTY) }),
    secrets,
  );

  // 1–2. Settings, config and preflight.
  const workspaceDir = resolve(options.workspaceDir ?? process.cwd());
  const config = await checkWorkspace(env, settings, log, options.executor, workspaceDir);
  const configDir = settings.configPath;
  const host = options.host ?? "0.0.0.0";
  assertInboundPolicy(config, host, env);
  const auth = await createInboundAuth({ config, configDir, log });
  const stateDir = settings.stateDir;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700).catch(() => undefined);

  const metrics = createMetrics();
  await mkdir(settings.configsDir, { recursive: true });
  const tokens = createTokenStore({ configsDir: settings.configsDir, env, logger: log, watch: true });
  secrets.track({ tokens, runtime: config.runtime });
  await secrets.refresh();
  // Before serving: end agents a kill -9'd daemon left running; a full state volume never fails a turn.
  const prepared = await prepareStateDir({ stateDir, log, metrics });
  // The A2A task records (a2a.persist_tasks): last run's tasks, the running ones marked interrupted.
  const taskRecords = config.a2a.persist_tasks
    ? await openTaskRecords({ stateDir, log, health: prepared.stateDirHealth })
    : undefined;
  const sessionStore = rememberingSessionStore(
    createSessionStore({ file: join(stateDir, "session.json"), logger: log }),
  );
  // runtime: adapter — the adapter module's executor, made once here (its factory may start processes,
  // so after the state dir is ready) and checked with its own checks before the daemon goes live.
  const ownExecutor =
    options.executor ??
    (config.runtime === ADAPTER_RUNTIME
      ? await bootAdapter({
          config,
          env,
          settings,
          configDir,
          workspaceDir,
          stateDir,
          log,
          sessionStore,
          groups: prepared.groups,
          mask: secrets.maskText,
        }).catch((error: unknown) => {
          prepared.stateDirHealth.stop();
          tokens.close();
          throw error;
        })
      : undefined);
  // Readiness re-checks only what can change at run time: the agent's credentials (token-free;
  // none for the command runtime). The agent-auth check honours MOLECULE_PREFLIGHT_CHECK_AUTH=false.
  const gate = createPreflightGate({
    checks: readinessChecks(config, ownExecutor),
    ctx: { env, settings, configDir, workspaceDir, logger: log, config },
    ttlMs: 60_000,
  });
  const executor =
    ownExecutor ??
    (await chooseExecutor({
      config,
      configDir,
      workspaceDir,
      stateDir,
      env,
      sessionStore,
      logger: log,
      groups: prepared.groups,
      onStateWriteError: prepared.onStateWriteError,
    }));
  // Draining = shutdown has begun = the halt signal is aborted (shutdown's first step).
  const halt = new AbortController();
  const draining = () => halt.signal.aborted;
  const workspaceId = settings.workspaceId ?? "";
  const platformUrl = settings.platformUrl ?? "";
  const tracker = createTaskTracker();
  const scheduler = createScheduler({ maxConcurrent: config.max_concurrent_tasks, queueSize: config.queue_size });
  const timeoutSeconds = turnTimeoutSeconds(config);
  const turns = createTurnRunner({
    executor,
    timeoutSeconds,
    gate,
    log,
    metrics,
    secrets,
    tracker,
    stateDirHealth: prepared.stateDirHealth,
  });
  // Started later in boot (register after serving, the loops after registering): read through these.
  let registrar: Registrar | undefined;
  let loops: PlatformLoops | undefined;
  let prompts: { stop(): void } | undefined;
  const registered = () => registrar?.registered() ?? false;
  const heartbeatStats = () => loops?.heartbeat.stats();

  // 3. Serve A2A (and probes) before registering: the platform may dispatch at once.
  const limits: ServerLimits = { maxConnections: config.a2a.max_connections, ...options.http };
  const a2a = await serveA2A({
    host,
    port: options.port ?? config.a2a.port,
    probePort: config.a2a.probe_port,
    limits,
    auth,
    a2a: createA2AService({
      turns,
      scheduler,
      conversations: createConversations({ stateDir, maxContexts: config.sessions.max_contexts, log }),
      log,
      timeoutSeconds,
      streaming: config.a2a.streaming,
      streamThinking: config.a2a.stream_thinking,
      draining,
      ...(taskRecords ? { tasks: taskRecords.registry } : {}),
    }),
    card: (url) => agentCard(config, url),
    advertiseUrl: (boundPort) => resolveAdvertiseUrl(settings, boundPort),
    turnCapacity: config.max_concurrent_tasks + config.queue_size,
    log,
    readiness: { draining, registered, heartbeatStats, gate, stateDirHealth: prepared.stateDirHealth },
    metrics: { metrics, tracker, heartbeatStats, pollerStats: () => loops?.poller.stats() },
  });
  const url = a2a.url;
  const status = createStatus({
    workspaceId,
    url,
    started,
    registered,
    draining,
    lastOutcome: turns.lastOutcome,
    lastUsage: turns.lastUsage,
    heartbeatStats,
    tracker,
    scheduler,
    gate,
  });
  // Admin socket for the CLI (never on the A2A port).
  const admin = await listenAdmin({
    stateDir,
    status,
    tracker,
    heartbeat: () => loops?.heartbeat,
    limits,
  });

  // From here on stop() may run: an abort during boot ends it.
  const stop = createShutdown({
    log,
    graceMs: options.graceMs ?? 10_000,
    halt: () => halt.abort(),
    scheduler,
    stopPrompts: () => prompts?.stop(),
    stopPlatformLoops: async () => loops?.stop(),
    closeRest: async () => {
      await taskRecords?.store.close(); // every queued record is written before the daemon stops
      prepared.stateDirHealth.stop();
      tokens.close();
      await executor.close?.();
    },
    servers: [a2a.server, ...(a2a.probe ? [a2a.probe.server] : []), admin.server],
    adminSocket: admin.socket,
  });
  const abortBoot = () => void stop("aborted");
  if (options.signal?.aborted) abortBoot();
  else options.signal?.addEventListener("abort", abortBoot, { once: true });

  // 4. Register, retrying with backoff until it succeeds.
  registrar = createRegistrar({
    platformUrl,
    workspaceId,
    tokens,
    url,
    agentCard: agentCard(config, url),
    halt: halt.signal,
    log,
    metrics,
  });
  await registerAtBoot({
    log,
    tokenFile: tokens.file,
    stateDir,
    register: registrar.register,
    stop,
    mask: secrets.maskText,
  });
  if (halt.signal.aborted) {
    // A signal while still registering: nothing more starts; shut down what did.
    await stop("aborted");
    throw new RuntimeError({ code: "E_BOOT_ABORTED", message: "boot aborted before the daemon was registered" });
  }

  // 5–6. Heartbeat and delegation poller; then the initial prompt once, the idle prompt while idle.
  loops = await startPlatformLoops({
    platformUrl,
    workspaceId,
    tokens,
    config,
    stateDir,
    log,
    metrics,
    tracker,
    stateDirHealth: prepared.stateDirHealth,
    registrar,
    draining,
    // An executor of your own replaces config.runtime's: the daemon keeps no session for it.
    sessions: options.executor === undefined && getAgent(config.runtime)?.supportsResume === true,
  });
  prompts = await startPrompts({
    config,
    configDir,
    stateDir,
    platformUrl,
    workspaceId,
    tokens,
    log,
    tracker,
    draining,
  });
  if (halt.signal.aborted) {
    // Shutdown began while these started: it ran before they existed, so stop them here.
    prompts.stop();
    await loops.stop();
  }

  log.info({ event: "runtime.ready", workspaceId, url, bootMs: Date.now() - started }, "workspace ready");
  return { url, port: a2a.port, adminSocket: admin.socket, status, stop };
}
