import { createServer, type Server } from "node:http";
import type { InboundAuth } from "./a2a/inbound-auth.js";
import type { Probe } from "./http.js";
import { applyLimits, resolveLimits, type ServerLimits, serverOptions } from "./http-limits.js";
import { sendJson as send } from "./http-reply.js";

/** Connections the probe listener serves at once: the orchestrator's probes and a scraper need few. */
export const PROBE_MAX_CONNECTIONS = 32;

/** What the probe listener answers: the same probes as the A2A port's. @internal */
export interface ProbeRoutes {
  livez(): Probe;
  readyz(): Promise<Probe>;
  metrics(): Promise<{ contentType: string; body: string }>;
  onError(error: unknown): void;
  /** `a2a.auth`: with `a2a.metrics_auth`, `/metrics` asks for the token here too. */
  auth?: Pick<InboundAuth, "metricsAuth" | "check">;
  /** The request-arrival deadlines (the connection cap is PROBE_MAX_CONNECTIONS). */
  limits?: ServerLimits;
}

/**
 * The listener on `a2a.probe_port`: `/livez`, `/readyz` and `/metrics` only, with its own small
 * connection cap, so probes keep answering when the A2A port's connections are all taken. @internal
 */
export function createProbeServer(routes: ProbeRoutes): Server {
  const limits = resolveLimits({ ...routes.limits, maxConnections: PROBE_MAX_CONNECTIONS });
  const server = createServer(serverOptions(limits), (req, res) => {
    const route = `${req.method ?? "GET"} ${(req.url ?? "/").split("?")[0]}`;
    const handle = async () => {
      switch (route) {
        case "GET /livez": {
          const probe = routes.livez();
          send(res, probe.ok ? 200 : 503, probe.body);
          return;
        }
        case "GET /readyz": {
          const probe = await routes.readyz();
          send(res, probe.ok ? 200 : 503, probe.body);
          return;
        }
        case "GET /metrics": {
          if (routes.auth?.metricsAuth && !(await routes.auth.check(req.headers.authorization)).ok) {
            res.setHeader("www-authenticate", 'Bearer realm="a2a"');
            send(res, 401, { error: "Unauthorized: send the workspace's A2A token as Authorization: Bearer <token>" });
            return;
          }
          const metrics = await routes.metrics();
          send(res, 200, metrics.body, metrics.contentType);
          return;
        }
        default:
          send(res, 404, { error: "not found: this port serves /livez, /readyz and /metrics only" });
      }
    };
    handle().catch((error: unknown) => {
      routes.onError(error);
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  applyLimits(server, limits);
  return server;
}
