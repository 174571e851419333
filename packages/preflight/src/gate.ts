import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { homedir } from "node:os";
import { AGENTS, type AgentDescriptor, isAuthFailureText } from "@molecule/auth";
import { resolveSettings } from "@molecule/config";
import { type Clock, realClock } from "./clock.js";
import { runPreflight } from "./run.js";
import { agentFor } from "./runtimes.js";
import type { Check, Env, Issue, PreflightOptions, PreflightReport } from "./types.js";

export interface PreflightGateOptions {
  checks: readonly Check[];
  ctx?: PreflightOptions;
  /** How long a report is reused, ms. Default 60 000. */
  ttlMs?: number;
  /** Default `ctx.clock`, then the real clock. */
  clock?: Clock;
}

export interface PreflightGate {
  /** The cached report while it is younger than `ttlMs`, else a fresh run; concurrent callers share one run. */
  check(options?: { force?: boolean }): Promise<PreflightReport>;
  /** Drops the cached report and any observed auth failure. */
  reset(): void;
  /**
   * Feeds the agent's output; an auth-failure text (`isAuthFailureText`) holds every report failed
   * with `E_AGENT_AUTH_OBSERVED` until `noteAgentSuccess()`, the agent's credentials change, or
   * `ttlMs` has passed and the token-free check passes. Returns true when it noted a failure.
   */
  noteAgentOutput(text: string): boolean;
  /** The agent completed a turn: clears an observed auth failure. */
  noteAgentSuccess(): void;
  /** The last report `check` returned (with the observed failure, if any), or undefined. */
  readonly lastReport: PreflightReport | undefined;
}

/** The name under which the observed failure is reported (the same as the token-free check). */
const AUTH_CHECK = "agent-auth";

const FALLBACK_RELOGIN =
  "Log the agent in again as the user the runtime runs as, or set its API key in the environment.";

/**
 * A digest of the agents' credentials: every registry agent's credential env vars (hashed, never
 * kept) and the mtime and size of the files its probe reads (their paths follow HOME and the
 * agent's own dir variables, so changing those changes the digest too).
 */
async function credentialsFingerprint(env: Env, stateDir: string, agents: readonly AgentDescriptor[]): Promise<string> {
  const hash = createHash("sha256");
  const names = new Set(["HOME", ...agents.flatMap((agent) => agent.credentialEnv)]);
  for (const name of names) hash.update(`${name}=${env[name] ?? ""}\0`);
  const home = env.HOME?.trim() ? env.HOME : homedir();
  const files = agents.flatMap((agent) => agent.authProbe.credentialFiles?.({ home, env: { ...env }, stateDir }) ?? []);
  for (const file of new Set(files)) {
    const info = await stat(file).catch(() => undefined);
    hash.update(`${file}:${info ? `${info.mtimeMs}:${info.size}` : "-"}\0`);
  }
  return hash.digest("hex");
}

/**
 * A TTL-cached preflight for a worker to call before every claim. Status is not capability: an
 * auth failure seen in the agent's output is a gate, held down until the agent proves otherwise.
 */
export function createPreflightGate(options: PreflightGateOptions): PreflightGate {
  const ctx = options.ctx ?? {};
  const clock = options.clock ?? ctx.clock ?? realClock;
  const ttlMs = options.ttlMs ?? 60_000;
  const env = (): Env => ctx.env ?? process.env;
  // Where the probes find each agent's home (as runPreflight resolves it).
  const stateDir = (): string => (ctx.settings ?? resolveSettings(env()).settings).stateDir;
  const agents = ctx.agents ?? AGENTS;

  let cached: { report: PreflightReport; at: number } | undefined;
  let inFlight: Promise<PreflightReport> | undefined;
  let observed: { at: number; fingerprint: Promise<string>; issue: Issue } | undefined;
  let last: PreflightReport | undefined;
  let generation = 0;

  const withObserved = (report: PreflightReport): PreflightReport => {
    if (!observed) return report;
    const failures = [...report.failures, observed.issue];
    return { ...report, ok: false, failures };
  };

  const run = async (): Promise<PreflightReport> => {
    const startedGeneration = generation;
    const report = await runPreflight(options.checks, { ...ctx, clock });
    if (generation === startedGeneration) cached = { report, at: clock.now() };
    if (observed && clock.now() - observed.at >= ttlMs) {
      const auth = report.checks.find((c) => c.name === AUTH_CHECK);
      if (auth && (auth.status === "pass" || auth.status === "warn")) observed = undefined;
    }
    return report;
  };

  return {
    async check({ force = false } = {}) {
      if (observed) {
        const fingerprint = await credentialsFingerprint(env(), stateDir(), agents);
        if (observed && fingerprint !== (await observed.fingerprint)) observed = undefined;
      }
      let report: PreflightReport;
      const now = clock.now();
      // Once an observed failure is ttlMs old, the token-free check must run again to clear it.
      const recheck =
        observed !== undefined && now - observed.at >= ttlMs && (!cached || cached.at < observed.at + ttlMs);
      if (!force && !recheck && cached && now - cached.at < ttlMs) report = cached.report;
      else {
        inFlight ??= run().finally(() => {
          inFlight = undefined;
        });
        report = await inFlight;
      }
      last = withObserved(report);
      return last;
    },
    reset() {
      generation += 1;
      cached = undefined;
      observed = undefined;
      last = undefined;
    },
    noteAgentOutput(text) {
      if (!isAuthFailureText(text)) return false;
      if (observed) return true;
      const at = clock.now();
      const fingerprint = credentialsFingerprint(env(), stateDir(), agents);
      fingerprint.catch(() => undefined);
      observed = {
        at,
        fingerprint,
        issue: {
          severity: "fail",
          check: AUTH_CHECK,
          code: "E_AGENT_AUTH_OBSERVED",
          title: "Agent reported an authentication failure",
          detail: `the agent's output said it is logged out or its credentials were rejected (first seen ${new Date(at).toISOString()}); no work is claimed until it is fixed`,
          fix: (ctx.config && agentFor(agents, ctx.config.runtime)?.reloginHint) ?? FALLBACK_RELOGIN,
        },
      };
      if (last) last = withObserved(last);
      return true;
    },
    noteAgentSuccess() {
      observed = undefined;
      if (cached) last = cached.report;
    },
    get lastReport() {
      return last;
    },
  };
}
