import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The daemon's Prometheus metrics, on a registry of its own (never the global one). @internal */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  const prefix = "molecule_";
  return {
    registry,
    heartbeats: new Counter({
      name: `${prefix}heartbeats_total`,
      help: "Heartbeats sent, by result (ok, failed)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    unauthorized: new Counter({
      name: `${prefix}heartbeat_unauthorized_total`,
      help: "Heartbeats answered 401",
      registers: [registry],
    }),
    registerAttempts: new Counter({
      name: `${prefix}register_attempts_total`,
      help: "Register attempts, by result (ok, failed)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    turns: new Counter({
      name: `${prefix}turns_total`,
      help: "Finished turns, by outcome",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    modelTokens: new Counter({
      name: `${prefix}model_tokens_total`,
      help: "Model tokens of finished turns whose agent reports usage, by direction (input, output)",
      labelNames: ["direction"] as const,
      registers: [registry],
    }),
    tokens: new Counter({
      name: `${prefix}tokens_total`,
      help: "Model tokens of turns whose agent reports usage (its own estimate), by kind (input, output, cache_read, cache_creation), model and outcome",
      labelNames: ["kind", "model", "outcome"] as const,
      registers: [registry],
    }),
    costUsd: new Counter({
      name: `${prefix}cost_usd_total`,
      help: "The cost in US dollars of turns whose agent computes one (its own estimate), by model and outcome",
      labelNames: ["model", "outcome"] as const,
      registers: [registry],
    }),
    turnDuration: new Histogram({
      name: `${prefix}turn_duration_seconds`,
      help: "Turn duration in seconds",
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    wedged: new Gauge({ name: `${prefix}wedged`, help: "1 while the runtime is wedged", registers: [registry] }),
    activeTasks: new Gauge({ name: `${prefix}active_tasks`, help: "Turns running now", registers: [registry] }),
    delegationsDelivered: new Counter({
      name: `${prefix}delegations_delivered_total`,
      help: "Delegation results delivered",
      registers: [registry],
    }),
    stateWriteFailures: new Counter({
      name: `${prefix}state_write_failures_total`,
      help: "Failed writes to the state directory (disk full, read-only), by what was written",
      labelNames: ["what"] as const,
      registers: [registry],
    }),
    stateVolumeFailing: new Gauge({
      name: `${prefix}state_volume_failing`,
      help: "1 while a write to the state directory is failing (answers are still delivered)",
      registers: [registry],
    }),
    agentsReaped: new Counter({
      name: `${prefix}agents_reaped_total`,
      help: "Agent process groups of a previous daemon (killed without a shutdown) ended at boot",
      registers: [registry],
    }),
    delegationsRejected: new Counter({
      name: `${prefix}delegations_rejected_total`,
      help: "Delegation rows rejected (source is not this workspace)",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
