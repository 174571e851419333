import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolveAdvertiseUrl } from "@molecule/config";
import { isWedged, wedgeReason, wedgeState } from "@molecule/wedge";
import { request } from "undici";
import { createA2AService } from "./a2a/service.js";
import { agentCard } from "./agent-card.js";
import { errorText, type RuntimeContext } from "./context.js";
import { RuntimeError } from "./errors.js";
import { createHttpServer, type Probe } from "./http.js";
import type { ServerLimits } from "./http-limits.js";

/** Consecutive 401s after which the workspace is not ready: the platform no longer takes our token. */
const UNAUTHORIZED_NOT_READY = 3;

function livez(): Probe {
  const state = wedgeState();
  return state.wedged ? { ok: false, body: { wedged: true, reason: state.reason } } : { ok: true, body: { ok: true } };
}

/**
 * `/readyz`: ready only when registered, not wedged, not draining, the platform takes our token and
 * the gate's re-checks pass. A failing state volume is a warning, not a reason: the pod still answers.
 */
async function readyz(ctx: RuntimeContext): Promise<Probe> {
  const reasons: string[] = [];
  if (ctx.state.draining) reasons.push("draining: shutting down");
  if (!ctx.state.registered) reasons.push("not registered with the platform yet");
  if (isWedged()) reasons.push(`wedged: ${wedgeReason()}`);
  const streak = ctx.parts.heartbeat?.stats().unauthorizedStreak ?? 0;
  if (streak >= UNAUTHORIZED_NOT_READY) {
    reasons.push(
      `the platform rejects our token (${streak} heartbeats answered 401): re-provision the workspace token in <configs>/.auth_token`,
    );
  }
  const gated = await ctx.gate.check();
  for (const failure of gated.failures) reasons.push(`${failure.code}: ${failure.title}`);
  const warnings = ctx.stateHealth.warnings();
  const extra = warnings.length > 0 ? { warnings } : {};
  return reasons.length === 0
    ? { ok: true, body: { ready: true, ...extra } }
    : { ok: false, body: { ready: false, reasons, ...extra } };
}

/** `/metrics`: the counters the heartbeat and poller keep become Prometheus counters (by difference). */
function createMetricsRoute(ctx: RuntimeContext) {
  const { metrics } = ctx;
  let lastBeats = { ok: 0, failed: 0, unauthorized: 0 };
  let lastDelegations = { delivered: 0, rejected: 0 };
  return async () => {
    const hb = ctx.parts.heartbeat?.stats();
    if (hb) {
      metrics.heartbeats.inc({ result: "ok" }, Math.max(0, hb.beatsOk - lastBeats.ok));
      metrics.heartbeats.inc({ result: "failed" }, Math.max(0, hb.beatsFailed - lastBeats.failed));
      // 401s: every rise of the streak is one more (the streak resets on success).
      const streak = hb.unauthorizedStreak;
      metrics.unauthorized.inc(Math.max(0, streak - lastBeats.unauthorized));
      lastBeats = { ok: hb.beatsOk, failed: hb.beatsFailed, unauthorized: streak };
    }
    const dp = ctx.parts.poller?.stats();
    if (dp) {
      metrics.delegationsDelivered.inc(Math.max(0, dp.delivered - lastDelegations.delivered));
      metrics.delegationsRejected.inc(Math.max(0, dp.rejected - lastDelegations.rejected));
      lastDelegations = { delivered: dp.delivered, rejected: dp.rejected };
    }
    metrics.wedged.set(isWedged() ? 1 : 0);
    metrics.activeTasks.set(ctx.tasks.snapshot().active);
    return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
  };
}

/**
 * Serves A2A and the probes on `host:port`, sets `ctx.state.url` to the advertised URL, and probes
 * its own agent-card route before anyone is told about it. Throws `E_LISTEN` / `E_SELF_PROBE`. @internal
 */
export async function serveA2A(
  ctx: RuntimeContext,
  options: { host: string; port: number; limits?: ServerLimits },
): Promise<{ server: Server; port: number }> {
  const { host, port } = options;
  const server = createHttpServer({
    a2a: createA2AService(ctx),
    card: () => agentCard(ctx.config, ctx.state.url),
    livez,
    readyz: () => readyz(ctx),
    metrics: createMetricsRoute(ctx),
    onError: (error) => ctx.log.error({ event: "http.error", err: errorText(error) }, "request failed"),
    onClientAbort: (error) =>
      ctx.log.info(
        { event: "http.client_aborted", err: errorText(error) },
        "the client closed the connection mid-request",
      ),
    ...(options.limits ? { limits: options.limits } : {}),
  });
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
  const cap = server.maxConnections;
  const needed = ctx.config.max_concurrent_tasks + ctx.config.queue_size + 8; // + streams' polls, probes, metrics
  if (cap < needed) {
    ctx.log.warn(
      { event: "a2a.max_connections_low", maxConnections: cap, needed },
      `a2a.max_connections (${cap}) leaves no room for probes beside max_concurrent_tasks + queue_size; raise it to at least ${needed}`,
    );
  }
  ctx.state.url = resolveAdvertiseUrl(ctx.settings, boundPort);

  // Probe our own agent-card route before telling the platform about it.
  const probe = await request(`http://127.0.0.1:${boundPort}/.well-known/agent-card.json`, { headersTimeout: 5_000 });
  await probe.body.text();
  if (probe.statusCode !== 200) {
    server.close();
    throw new RuntimeError({ code: "E_SELF_PROBE", message: `own agent-card route answered ${probe.statusCode}` });
  }
  ctx.log.info({ event: "a2a.listening", port: boundPort, url: ctx.state.url }, "serving A2A");
  return { server, port: boundPort };
}
