import { randomUUID } from "node:crypto";
import { chmod, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer as createUnixServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createTokenStore, type TokenStore } from "@molecule/auth";
import {
  ConfigError,
  loadConfig,
  resolveAdvertiseUrl,
  resolveSettings,
  type Settings,
  type WorkspaceConfig,
} from "@molecule/config";
import {
  createDelegationPoller,
  createHeartbeat,
  createTaskTracker,
  type DelegationPoller,
  type Heartbeat,
  type RuntimeMetadata,
  type TurnOutcome,
} from "@molecule/heartbeat";
import {
  agentAuthCheck,
  createPreflightGate,
  type PreflightReport,
  renderReport,
  runPreflight,
  workspaceChecks,
} from "@molecule/preflight";
import { createSessionStore } from "@molecule/session";
import { clearWedge, isWedged, markWedged, onWedgeChange, wedgeReason, wedgeState } from "@molecule/wedge";
import { request } from "undici";
import { type A2AHandler, RPC, type SendOutcome } from "./a2a.js";
import { RuntimeError } from "./errors.js";
import { type Executor, safeError, type TurnReply } from "./executor.js";
import { createClaudeCodeExecutor } from "./executors/claude-code.js";
import { createCommandExecutor } from "./executors/command.js";
import { createHttpServer } from "./http.js";
import { createLogger, type Logger, redactText } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { registerBackoffMs, registerHint, registerOnce } from "./register.js";
import { BusyError, CancelledError, createScheduler } from "./scheduler.js";

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
   * Aborting it shuts the daemon down. During boot (e.g. still retrying register while the platform
   * is down) the boot stops cleanly and `startRuntime` rejects with `E_BOOT_ABORTED`.
   */
  signal?: AbortSignal;
}

export interface RuntimeStatus {
  workspaceId: string;
  url: string;
  registered: boolean;
  ready: boolean;
  draining: boolean;
  platformStatus: string | undefined;
  wedge: { wedged: boolean; reason: string; code?: string; since?: string };
  currentTask: string;
  activeTasks: number;
  queuedTasks: number;
  lastOutcome: TurnOutcome | undefined;
  beats: { ok: number; failed: number };
  uptimeSeconds: number;
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

const AGENT_BINARY: Record<string, string> = { "claude-code": "claude", codex: "codex", "gemini-cli": "gemini" };

function firstLine(text: string): string {
  const line = text.split("\n", 1)[0]?.trim() ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

async function readPromptFiles(configDir: string, files: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    try {
      parts.push((await readFile(join(configDir, file), "utf8")).trim());
    } catch {
      // preflight already warned about a missing prompt file
    }
  }
  return parts.filter(Boolean).join("\n\n");
}

async function readOptionalText(configDir: string, inline: string | undefined, file: string | undefined) {
  if (inline?.trim()) return inline.trim();
  if (!file) return undefined;
  try {
    return (await readFile(join(configDir, file), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

function agentCard(config: WorkspaceConfig, url: string): Record<string, unknown> {
  return {
    name: config.name,
    description: config.description,
    version: config.version,
    url,
    protocolVersion: "0.3.0",
    preferredTransport: "JSONRPC",
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: config.skills.map((skill) => ({ id: skill, name: skill, description: `${skill} skill`, tags: [] })),
    capabilities: { streaming: config.a2a.streaming, pushNotifications: config.a2a.push_notifications },
  };
}

/** Runs the daemon's whole life (DESIGN.md "The daemon's life") and resolves once it serves. */
export async function startRuntime(options: RuntimeOptions = {}): Promise<RuntimeHandle> {
  const env = options.env ?? process.env;
  const started = Date.now();
  const resolved = resolveSettings(options.configDir ? { ...env, WORKSPACE_CONFIG_PATH: options.configDir } : env);
  const settings: Settings = resolved.settings;
  const log: Logger =
    options.logger ??
    createLogger({ level: settings.logLevel, pretty: options.pretty ?? Boolean(process.stdout.isTTY) });

  // 1–2. Settings, config and preflight: one report, a fix for each failure.
  const configDir = settings.configPath;
  const ctxBase = { env, settings, configDir, logger: log };
  let config: WorkspaceConfig | undefined;
  try {
    config = (await loadConfig(configDir, { env })).config;
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    // runPreflight loads it again as its first check and reports the error with its fix.
  }
  const report: PreflightReport = config
    ? await runPreflight(workspaceChecks(config), { ...ctxBase, config })
    : await runPreflight(workspaceChecks(undefined), ctxBase);
  if (!report.ok || !config) {
    throw new RuntimeError({ code: "E_PREFLIGHT", message: renderReport(report, { color: false }), report });
  }
  for (const warning of report.warnings) {
    log.warn(
      { event: "preflight.warning", check: warning.check, code: warning.code },
      `${warning.title}: ${warning.detail}`,
    );
  }
  const workspaceId = settings.workspaceId ?? "";
  const platformUrl = settings.platformUrl ?? "";

  const stateDir = settings.stateDir;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await chmod(stateDir, 0o700).catch(() => undefined);

  const metrics = createMetrics();
  await mkdir(settings.configsDir, { recursive: true });
  const tokens: TokenStore = createTokenStore({ configsDir: settings.configsDir, env, logger: log, watch: true });
  const tasks = createTaskTracker();
  const sessionStore = createSessionStore({ file: join(stateDir, "session.json"), logger: log });
  // Readiness re-checks only what can change at run time: the agent's credentials (token-free).
  // (agentAuthCheck itself honours MOLECULE_PREFLIGHT_CHECK_AUTH=false.)
  const gate = createPreflightGate({
    checks: config.runtime === "command" ? [] : [agentAuthCheck],
    ctx: { ...ctxBase, config },
    ttlMs: 60_000,
  });
  const workspaceDir = resolve(options.workspaceDir ?? process.cwd());
  const timeoutSeconds = config.runtime_config.timeout;
  const executor: Executor =
    options.executor ??
    (config.runtime === "claude-code"
      ? createClaudeCodeExecutor({
          command: config.runtime_config.command ?? "claude",
          cwd: workspaceDir,
          env,
          sessionStore,
          timeoutMs: timeoutSeconds * 1000,
          ...((config.runtime_config.model ?? config.model)
            ? { model: (config.runtime_config.model ?? config.model) as string }
            : {}),
          systemPrompt: await readPromptFiles(configDir, config.prompt_files),
          ...(config.effort ? { effort: config.effort } : {}),
          extraArgs: config.runtime_config.args,
          logger: log,
        })
      : createCommandExecutor({
          name: config.runtime,
          command: config.runtime_config.command ?? AGENT_BINARY[config.runtime] ?? config.runtime,
          args: config.runtime_config.args,
          cwd: workspaceDir,
          env,
          timeoutMs: timeoutSeconds * 1000,
        }));

  // 3. Serve A2A (and probes) before registering: the platform may dispatch at once.
  const scheduler = createScheduler({ maxConcurrent: config.max_concurrent_tasks, queueSize: config.queue_size });
  let registered = false;
  let draining = false;
  let lastOutcome: TurnOutcome | undefined;
  let url = "";

  async function runTurn(taskId: string, text: string, signal: AbortSignal): Promise<TurnReply> {
    const done = tasks.start(firstLine(text) || "task");
    const t0 = Date.now();
    let reply: TurnReply;
    try {
      reply = await executor.runTurn({
        taskId,
        text,
        signal,
        progress: (note) => log.info({ event: "turn.progress", taskId, note }, note),
      });
    } catch (error) {
      reply = { outcome: "crash", detail: error instanceof Error ? error.message : String(error) };
    }
    switch (reply.outcome) {
      case "ok":
        clearWedge();
        gate.noteAgentSuccess();
        break;
      case "auth":
        gate.noteAgentOutput(reply.detail ?? "not logged in");
        break;
      case "wedged":
        markWedged(reply.wedgeReason ?? `${executor.name} wedged — restart workspace`, { code: "E_AGENT_WEDGED" });
        break;
      case "crash":
        gate.reset();
        break;
      default:
        break;
    }
    lastOutcome = reply.outcome;
    const errorText = reply.outcome === "ok" ? undefined : safeError(reply, timeoutSeconds);
    done(reply.outcome, errorText);
    metrics.turns.inc({ outcome: reply.outcome });
    metrics.turnDuration.observe((Date.now() - t0) / 1000);
    const logLine = {
      event: "turn.finished",
      taskId,
      outcome: reply.outcome,
      ms: Date.now() - t0,
      ...(reply.detail ? { detail: redactText(reply.detail).slice(0, 2_000) } : {}),
    };
    if (reply.outcome === "ok") log.info(logLine, "turn finished");
    else log.warn(logLine, "turn failed");
    return reply;
  }

  const a2a: A2AHandler = {
    async send({ taskId, text }): Promise<SendOutcome> {
      try {
        const reply = await scheduler.submit({ id: taskId, run: (signal) => runTurn(taskId, text, signal) });
        if (reply.outcome === "ok") return { ok: true, text: reply.text ?? "" };
        return {
          ok: false,
          code: RPC.TURN_FAILED,
          message: safeError(reply, timeoutSeconds),
          data: { outcome: reply.outcome },
        };
      } catch (error) {
        if (error instanceof BusyError) {
          lastOutcome = "busy";
          metrics.turns.inc({ outcome: "busy" });
          return {
            ok: false,
            code: RPC.BUSY,
            message: error.message,
            data: { busy: true, retry_after: 30, outcome: "busy" },
          };
        }
        if (error instanceof CancelledError) {
          metrics.turns.inc({ outcome: "cancelled" });
          return { ok: false, code: RPC.TURN_FAILED, message: error.message, data: { outcome: "cancelled" } };
        }
        log.error(
          { event: "turn.internal_error", err: error instanceof Error ? error.message : String(error) },
          "turn failed",
        );
        return { ok: false, code: RPC.INTERNAL, message: "internal error" };
      }
    },
    cancel: (id) => scheduler.cancel(id),
  };

  let heartbeat: Heartbeat | undefined;
  let poller: DelegationPoller | undefined;
  let lastBeats = { ok: 0, failed: 0, unauthorized: 0 };
  let lastDelegations = { delivered: 0, rejected: 0 };

  const server = createHttpServer({
    a2a,
    card: () => agentCard(config, url),
    livez: () => {
      const state = wedgeState();
      return state.wedged
        ? { ok: false, body: { wedged: true, reason: state.reason } }
        : { ok: true, body: { ok: true } };
    },
    async readyz() {
      const reasons: string[] = [];
      if (draining) reasons.push("draining: shutting down");
      if (!registered) reasons.push("not registered with the platform yet");
      if (isWedged()) reasons.push(`wedged: ${wedgeReason()}`);
      const gated = await gate.check();
      for (const failure of gated.failures) reasons.push(`${failure.code}: ${failure.title}`);
      return reasons.length === 0
        ? { ok: true, body: { ready: true } }
        : { ok: false, body: { ready: false, reasons } };
    },
    async metrics() {
      const hb = heartbeat?.stats();
      if (hb) {
        metrics.heartbeats.inc({ result: "ok" }, Math.max(0, hb.beatsOk - lastBeats.ok));
        metrics.heartbeats.inc({ result: "failed" }, Math.max(0, hb.beatsFailed - lastBeats.failed));
        // 401s: every rise of the streak is one more (the streak resets on success).
        const streak = hb.unauthorizedStreak;
        metrics.unauthorized.inc(Math.max(0, streak - lastBeats.unauthorized));
        lastBeats = { ok: hb.beatsOk, failed: hb.beatsFailed, unauthorized: streak };
      }
      const dp = poller?.stats();
      if (dp) {
        metrics.delegationsDelivered.inc(Math.max(0, dp.delivered - lastDelegations.delivered));
        metrics.delegationsRejected.inc(Math.max(0, dp.rejected - lastDelegations.rejected));
        lastDelegations = { delivered: dp.delivered, rejected: dp.rejected };
      }
      metrics.wedged.set(isWedged() ? 1 : 0);
      metrics.activeTasks.set(tasks.snapshot().active);
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
    onError: (error) =>
      log.error({ event: "http.error", err: error instanceof Error ? error.message : String(error) }, "request failed"),
  });

  const host = options.host ?? "0.0.0.0";
  const port = options.port ?? config.a2a.port;
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(port, host, () => {
      server.off("error", rejectListen);
      resolveListen();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new RuntimeError({
      code: "E_LISTEN",
      message: `cannot listen on ${host}:${port} (${error.code ?? error.message}); set a2a.port in config.yaml to a free port, or 0 for any`,
      cause: error,
    });
  });
  const boundPort = (server.address() as AddressInfo).port;
  url = resolveAdvertiseUrl(settings, boundPort);

  // Probe our own agent-card route before telling the platform about it.
  const probe = await request(`http://127.0.0.1:${boundPort}/.well-known/agent-card.json`, { headersTimeout: 5_000 });
  await probe.body.text();
  if (probe.statusCode !== 200) {
    server.close();
    throw new RuntimeError({ code: "E_SELF_PROBE", message: `own agent-card route answered ${probe.statusCode}` });
  }
  log.info({ event: "a2a.listening", port: boundPort, url }, "serving A2A");

  // Admin socket for the CLI (never on the A2A port).
  const adminSocket = join(stateDir, "admin.sock");
  await rm(adminSocket, { force: true });
  const admin = createAdminServer();
  await new Promise<void>((resolveListen, rejectListen) => {
    admin.once("error", rejectListen);
    admin.listen(adminSocket, () => resolveListen());
  });
  await chmod(adminSocket, 0o600);

  // 4. Register, retrying with backoff until it succeeds.
  const registerOptions = { platformUrl, workspaceId, url, agentCard: agentCard(config, url), tokens, logger: log };
  let registering: Promise<void> | undefined;
  let stopped = false;
  // Declared before boot can be aborted: stop() may run from here on.
  let stopping: Promise<void> | undefined;
  const graceMs = options.graceMs ?? 10_000;
  let idleTimer: NodeJS.Timeout | undefined;
  let offWedge: (() => void) | undefined;
  const stopWaiters = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolvePause) => {
      const timer = setTimeout(finish, ms);
      timer.unref();
      stopWaiters.add(finish);
      function finish() {
        clearTimeout(timer);
        stopWaiters.delete(finish);
        resolvePause();
      }
    });

  function register(why: string): Promise<void> {
    if (registering) return registering;
    registering = (async () => {
      for (let attempt = 1; !stopped; attempt += 1) {
        const result = await registerOnce(registerOptions);
        metrics.registerAttempts.inc({ result: result.ok ? "ok" : "failed" });
        if (result.ok) {
          registered = true;
          log.info(
            { event: "register.ok", why, attempt, tokenIssued: result.tokenIssued },
            "registered with the platform",
          );
          return;
        }
        const waitMs = registerBackoffMs(attempt);
        log.warn(
          {
            event: "register.failed",
            why,
            attempt,
            status: result.status,
            error: result.error,
            retryInMs: waitMs,
            hint: registerHint(result),
          },
          "register failed; retrying",
        );
        await pause(waitMs);
      }
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  }

  const abortBoot = () => void stop("aborted");
  if (options.signal?.aborted) abortBoot();
  else options.signal?.addEventListener("abort", abortBoot, { once: true });

  await register("boot");
  if (stopped) {
    // A signal while still registering: nothing more starts; shut down what did.
    await stop("aborted");
    throw new RuntimeError({ code: "E_BOOT_ABORTED", message: "boot aborted before the daemon was registered" });
  }

  // 5–6. Heartbeat and delegation poller.
  const metadata = (): RuntimeMetadata => ({
    capabilities: {
      heartbeat: true,
      scheduler: false,
      session: config.runtime === "claude-code",
      status_mgmt: true,
      retry: true,
      activity_decoration: false,
      channel_dispatch: false,
    },
  });
  heartbeat = createHeartbeat({
    platformUrl,
    workspaceId,
    tokens,
    intervalMs: config.heartbeat.interval_seconds * 1000,
    jitter: config.heartbeat.jitter,
    metadata,
    tasks,
    logger: log,
  });
  heartbeat.onOutageRecovered(() => {
    registered = false;
    void register("platform lost us or a long outage");
  });
  heartbeat.onUnauthorizedStreak(() => undefined);
  heartbeat.start();
  offWedge = onWedgeChange((state) => {
    metrics.wedged.set(state.wedged ? 1 : 0);
  });
  poller = createDelegationPoller({
    platformUrl,
    workspaceId,
    tokens,
    intervalMs: config.delegation.poll_interval_seconds * 1000,
    resultsFile: join(stateDir, "delegation_results.jsonl"),
    stateDir,
    logger: log,
  });
  poller.start();

  // Lifecycle extras: the initial prompt once, the idle prompt while idle.
  const selfMessage = async (text: string, why: string) => {
    try {
      const headers = await tokens.selfSourceHeaders(workspaceId);
      const res = await request(new URL(`/workspaces/${workspaceId}/a2a`, platformUrl), {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: randomUUID(),
          method: "message/send",
          params: { message: { role: "user", messageId: randomUUID(), parts: [{ kind: "text", text }] } },
        }),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      await res.body.text();
      log.info({ event: "self_message.sent", why, status: res.statusCode }, "self-message answered");
    } catch (error) {
      log.warn(
        { event: "self_message.failed", why, err: error instanceof Error ? error.message : String(error) },
        "self-message failed",
      );
    }
  };

  const initialPrompt = await readOptionalText(configDir, config.initial_prompt, config.initial_prompt_file);
  const marker = join(stateDir, "initial_prompt_done");
  if (initialPrompt && !(await stat(marker).catch(() => undefined))) {
    // Marker first: a crash loop must never repeat the initial prompt.
    await writeFile(marker, new Date().toISOString(), { mode: 0o600 });
    void selfMessage(initialPrompt, "initial_prompt");
  }
  const idlePrompt = await readOptionalText(configDir, config.idle_prompt, config.idle_prompt_file);
  let idleInFlight = false;
  if (idlePrompt) {
    idleTimer = setInterval(() => {
      if (idleInFlight || draining || tasks.snapshot().active > 0) return;
      idleInFlight = true;
      void selfMessage(idlePrompt, "idle_prompt").finally(() => {
        idleInFlight = false;
      });
    }, config.idle_interval_seconds * 1000);
    idleTimer.unref();
  }

  log.info({ event: "runtime.ready", workspaceId, url, bootMs: Date.now() - started }, "workspace ready");

  const status = (): RuntimeStatus => {
    const hb = heartbeat?.stats();
    const snap = tasks.snapshot();
    const wedge = wedgeState();
    const counts = scheduler.stats();
    return {
      workspaceId,
      url,
      registered,
      ready: registered && !draining && !wedge.wedged && (gate.lastReport?.ok ?? true),
      draining,
      platformStatus: hb?.platformStatus,
      wedge: {
        wedged: wedge.wedged,
        reason: wedge.reason,
        ...(wedge.code ? { code: wedge.code } : {}),
        ...(wedge.since ? { since: wedge.since.toISOString() } : {}),
      },
      currentTask: snap.currentLabel,
      activeTasks: snap.active,
      queuedTasks: counts.queued,
      lastOutcome,
      beats: { ok: hb?.beatsOk ?? 0, failed: hb?.beatsFailed ?? 0 },
      uptimeSeconds: Math.floor((Date.now() - started) / 1000),
    };
  };

  function createAdminServer(): Server {
    return createUnixServer((req, res) => {
      const reply = (code: number, body: unknown) => {
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => {
        if (chunks.length < 64) chunks.push(c);
      });
      req.on("end", () => {
        const route = `${req.method} ${req.url}`;
        if (route === "GET /status") return reply(200, status());
        if (route === "POST /beat") {
          heartbeat?.beatNow("operator");
          return reply(200, { ok: true });
        }
        if (route === "POST /task") {
          let label: unknown;
          try {
            label = (JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as { label?: unknown }).label;
          } catch {
            return reply(400, { error: 'body must be JSON {"label": string | null}' });
          }
          if (label !== null && label !== undefined && typeof label !== "string") {
            return reply(400, { error: "label must be a string or null" });
          }
          tasks.setLabel(typeof label === "string" ? label.slice(0, 200) : undefined);
          return reply(200, { ok: true, currentTask: tasks.snapshot().currentLabel });
        }
        return reply(404, { error: "not found" });
      });
    });
  }

  // A declaration (hoisted): an abort during boot calls it before this line runs.
  function stop(reason = "stop"): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      const t0 = Date.now();
      draining = true;
      stopped = true;
      for (const wake of [...stopWaiters]) wake();
      log.info({ event: "runtime.stopping", reason, graceMs }, "shutting down");
      scheduler.close();
      if (idleTimer) clearInterval(idleTimer);
      // The turn in flight gets grace − 4 s, then its process group is terminated.
      const turnBudget = Math.max(0, graceMs - 4_000);
      const idle = scheduler.idle();
      const finishedInTime = await Promise.race([idle.then(() => true), delay(turnBudget).then(() => false)]);
      if (!finishedInTime) {
        log.warn(
          { event: "runtime.turn_aborted" },
          "the turn in flight did not finish within the grace budget; terminating it",
        );
        scheduler.abortRunning();
        await Promise.race([idle, delay(2_000)]);
      }
      await poller?.stop();
      await heartbeat?.stop(); // final beat with active_tasks 0, at most 2 s
      offWedge?.();
      tokens.close();
      await executor.close?.();
      await Promise.race([
        Promise.all([closeServer(server), closeServer(admin)]),
        delay(Math.max(100, graceMs - (Date.now() - t0))),
      ]);
      await rm(adminSocket, { force: true });
      log.info({ event: "runtime.stopped", ms: Date.now() - t0 }, "stopped");
    })();
    return stopping;
  }

  return {
    url,
    port: boundPort,
    adminSocket,
    status,
    stop,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => {
    server.close(() => r());
    server.closeIdleConnections?.();
  });
}
