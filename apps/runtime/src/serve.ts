import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DelegationPollerStats, HeartbeatStats, TaskTracker } from "@molecule/heartbeat";
import type { PreflightGate } from "@molecule/preflight";
import { isWedged, wedgeReason, wedgeState } from "@molecule/wedge";
import { request } from "undici";
import type { InboundAuth } from "./a2a/inbound-auth.js";
import type { A2AService } from "./a2a/service.js";
import { errorText, RuntimeError } from "./errors.js";
import { createHttpServer, type Probe } from "./http.js";
import { resolveLimits, type ServerLimits } from "./http-limits.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { createProbeServer } from "./probe-server.js";
import type { StateDirHealth } from "./state-dir-health.js";

/** Consecutive 401s after which the workspace is not ready: the platform no longer takes our token. */
const UNAUTHORIZED_NOT_READY = 3;

/** What `/readyz` reads. The platform loops start after serving: their stats are undefined until then. */
export interface ReadinessInputs {
  draining(): boolean;
  registered(): boolean;
  heartbeatStats(): Pick<HeartbeatStats, "unauthorizedStreak" | "workspaceLost" | "notFoundSince"> | undefined;
  gate: Pick<PreflightGate, "check">;
  stateDirHealth: Pick<StateDirHealth, "warnings">;
}

/** What `/metrics` reads (besides the registry it renders). */
export interface MetricsInputs {
  metrics: Metrics;
  tracker: Pick<TaskTracker, "snapshot">;
  heartbeatStats(): Pick<HeartbeatStats, "beatsOk" | "beatsFailed" | "unauthorizedStreak"> | undefined;
  pollerStats(): Pick<DelegationPollerStats, "delivered" | "rejected"> | undefined;
}

/** What `serveA2A` uses. @internal */
export interface ServeOptions {
  host: string;
  port: number;
  /**
   * `a2a.probe_port`: a second listener for `/livez`, `/readyz` and `/metrics` only (0 picks a free
   * port), so the probes answer when the A2A connections are all taken. Absent: none.
   */
  probePort?: number | undefined;
  limits?: ServerLimits;
  a2a: A2AService;
  /** `a2a.auth`'s gate (absent: anyone may call). */
  auth?: InboundAuth;
  /** The agent card for the advertised URL. */
  card(url: string): Record<string, unknown>;
  /** The URL to advertise once `port` is bound (`ADVERTISE_URL`, or this host and the bound port). */
  advertiseUrl(boundPort: number): string;
  /** max_concurrent_tasks + queue_size: a connection cap below this (+ 8) is warned about. */
  turnCapacity: number;
  log: Logger;
  readiness: ReadinessInputs;
  metrics: MetricsInputs;
}

function livez(): Probe {
  const wedge = wedgeState();
  return wedge.wedged ? { ok: false, body: { wedged: true, reason: wedge.reason } } : { ok: true, body: { ok: true } };
}

/**
 * `/readyz`: ready only when registered, not wedged, not draining, the platform takes our token and
 * the gate's re-checks pass. A failing state volume is a warning, not a reason: the pod still answers.
 */
async function readyz(inputs: ReadinessInputs): Promise<Probe> {
  const reasons: string[] = [];
  if (inputs.draining()) reasons.push("draining: shutting down");
  if (!inputs.registered()) reasons.push("not registered with the platform yet");
  if (isWedged()) reasons.push(`wedged: ${wedgeReason()}`);
  const stats = inputs.heartbeatStats();
  if (stats?.workspaceLost) {
    const seconds = Math.round((Date.now() - (stats.notFoundSince ?? Date.now())) / 1000);
    reasons.push(
      `the platform does not know this workspace: heartbeats answered 404 "workspace not found" for ${seconds} s (longer than heartbeat.ttl_seconds) and re-registering has not helped; check WORKSPACE_ID and that the workspace exists on the platform`,
    );
  }
  const streak = stats?.unauthorizedStreak ?? 0;
  if (streak >= UNAUTHORIZED_NOT_READY) {
    reasons.push(
      `the platform rejects our token (${streak} heartbeats answered 401): re-provision the workspace token in <configs>/.auth_token`,
    );
  }
  const gated = await inputs.gate.check();
  for (const failure of gated.failures) reasons.push(`${failure.code}: ${failure.title}`);
  const warnings = inputs.stateDirHealth.warnings();
  const extra = warnings.length > 0 ? { warnings } : {};
  return reasons.length === 0
    ? { ok: true, body: { ready: true, ...extra } }
    : { ok: false, body: { ready: false, reasons, ...extra } };
}

/** `/metrics`: the counters the heartbeat and poller keep become Prometheus counters (by difference). */
function createMetricsRoute(inputs: MetricsInputs) {
  const { metrics, tracker } = inputs;
  let lastBeats = { ok: 0, failed: 0, unauthorized: 0 };
  let lastDelegations = { delivered: 0, rejected: 0 };
  return async () => {
    const hb = inputs.heartbeatStats();
    if (hb) {
      metrics.heartbeats.inc({ result: "ok" }, Math.max(0, hb.beatsOk - lastBeats.ok));
      metrics.heartbeats.inc({ result: "failed" }, Math.max(0, hb.beatsFailed - lastBeats.failed));
      // 401s: every rise of the streak is one more (the streak resets on success).
      const streak = hb.unauthorizedStreak;
      metrics.unauthorized.inc(Math.max(0, streak - lastBeats.unauthorized));
      lastBeats = { ok: hb.beatsOk, failed: hb.beatsFailed, unauthorized: streak };
    }
    const dp = inputs.pollerStats();
    if (dp) {
      metrics.delegationsDelivered.inc(Math.max(0, dp.delivered - lastDelegations.delivered));
      metrics.delegationsRejected.inc(Math.max(0, dp.rejected - lastDelegations.rejected));
      lastDelegations = { delivered: dp.delivered, rejected: dp.rejected };
    }
    metrics.wedged.set(isWedged() ? 1 : 0);
    metrics.activeTasks.set(tracker.snapshot().active);
    return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
  };
}

/** Listens, or throws `E_LISTEN` naming the setting to change. */
async function listen(server: Server, host: string, port: number, setting: string): Promise<void> {
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(port, host, () => {
      server.off("error", rejectListen);
      resolveListen();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw new RuntimeError({
      code: "E_LISTEN",
      message: `cannot listen on ${host}:${port} (${error.code ?? error.message}); set ${setting} in config.yaml to a free port, or 0 for any`,
      cause: error,
    });
  });
}

/**
 * Serves A2A and the probes on `host:port` (and the probes alone on `probePort`), returns the advertised URL, and probes its own
 * agent-card route before anyone is told about it. Throws `E_LISTEN` / `E_SELF_PROBE`. @internal
 */
export async function serveA2A(
  options: ServeOptions,
): Promise<{ server: Server; port: number; url: string; probe?: { server: Server; port: number } }> {
  const { host, port, log } = options;
  let url = "";
  const probes = {
    livez,
    readyz: () => readyz(options.readiness),
    metrics: createMetricsRoute(options.metrics),
    onError: (error: unknown) => log.error({ event: "http.error", err: errorText(error) }, "request failed"),
  };
  const server = createHttpServer({
    a2a: options.a2a,
    card: () => options.card(url),
    ...probes,
    onClientAbort: (error) =>
      log.info({ event: "http.client_aborted", err: errorText(error) }, "the client closed the connection mid-request"),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
  });
  await listen(server, host, port, "a2a.port");
  const boundPort = (server.address() as AddressInfo).port;
  let probeListener: { server: Server; port: number } | undefined;
  if (options.probePort !== undefined) {
    const probeServer = createProbeServer({
      ...probes,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.auth ? { auth: options.auth } : {}),
    });
    await listen(probeServer, host, options.probePort, "a2a.probe_port").catch((error: unknown) => {
      server.close();
      throw error;
    });
    probeListener = { server: probeServer, port: (probeServer.address() as AddressInfo).port };
    log.info(
      { event: "a2a.probes_listening", port: probeListener.port },
      "serving /livez, /readyz and /metrics on the probe port",
    );
  }
  const cap = resolveLimits(options.limits).maxConnections;
  const needed = options.turnCapacity + 8; // + streams' polls, probes, metrics
  if (cap < needed) {
    log.warn(
      { event: "a2a.max_connections_low", maxConnections: cap, needed },
      `a2a.max_connections (${cap}) leaves no room for probes beside max_concurrent_tasks + queue_size; raise it to at least ${needed}`,
    );
  }
  url = options.advertiseUrl(boundPort);

  // Probe our own agent-card route before telling the platform about it.
  // `reset`: the connection closes after the answer, so the self-probe holds none of the cap's slots.
  const probe = await request(`http://127.0.0.1:${boundPort}/.well-known/agent-card.json`, {
    headersTimeout: 5_000,
    reset: true,
  });
  await probe.body.text();
  if (probe.statusCode !== 200) {
    server.close();
    probeListener?.server.close();
    throw new RuntimeError({ code: "E_SELF_PROBE", message: `own agent-card route answered ${probe.statusCode}` });
  }
  log.info({ event: "a2a.listening", port: boundPort, url }, "serving A2A");
  return { server, port: boundPort, url, ...(probeListener ? { probe: probeListener } : {}) };
}
