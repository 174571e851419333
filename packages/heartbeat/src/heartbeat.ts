import { onWedgeChange, wedgeState } from "@molecule/wedge";
import type { Dispatcher } from "undici";
import * as z from "zod";
import { buildHeartbeatBody, type HeartbeatBody, type RuntimeMetadata } from "./body.js";
import { HeartbeatError } from "./errors.js";
import { createHttpClient, type HttpResult } from "./http.js";
import { authorizationOf, positive, tokenOf, validateBase } from "./options.js";
import { backoffDelayMs, nextBeatDelayMs, parseRetryAfterMs } from "./schedule.js";
import type { TaskTracker } from "./tasks.js";
import { type Clock, errorText, type HeartbeatLogger, type PlatformTokens, realClock, silentLogger } from "./types.js";

export interface HeartbeatOptions {
  /** Platform base URL (`PLATFORM_URL`), http or https. */
  platformUrl: string;
  workspaceId: string;
  /** The platform token store (`@molecule/auth`'s `createTokenStore`). */
  tokens: PlatformTokens;
  /** Period between beats, ms. Default 30 000. */
  intervalMs?: number;
  /** Relative spread of each period, 0 ≤ jitter < 1. Default 0.1. */
  jitter?: number;
  /** Called for every beat; sent as `runtime_metadata`. */
  metadata: () => RuntimeMetadata;
  /** Running tasks and the error window (`createTaskTracker()`). */
  tasks: Pick<TaskTracker, "snapshot" | "onChange">;
  logger?: HeartbeatLogger;
  clock?: Clock;
  /** Uniform [0, 1). Default `Math.random`. */
  random?: () => number;
  /** undici dispatcher for every request. Default: an own keep-alive Agent. */
  dispatcher?: Dispatcher;
  /** Per-request timeout, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** The platform's liveness TTL, ms: a longer outage fires `onOutageRecovered`. Default 180 000. */
  ttlMs?: number;
  /** Read `GET /workspaces/:id` on every n-th successful beat. Default 5. */
  platformCheckEvery?: number;
}

export interface HeartbeatStats {
  running: boolean;
  beatsOk: number;
  beatsFailed: number;
  /** Failed beats since the last success (any kind of failure). */
  consecutiveFailures: number;
  /** 401s since the last success. */
  unauthorizedStreak: number;
  /** HTTP status of the last beat's response; undefined after a transport error or before any. */
  lastStatus: number | undefined;
  /** The platform's view of us from the last check: its `status`, or `"not-found"` after a 404. */
  platformStatus: string | undefined;
  /** The last failure, without secrets. */
  lastError: string | undefined;
  /** Clock time (epoch ms) of the last successful beat. */
  lastSuccessAt: number | undefined;
  /** Beats sent because state changed or `beatNow` was called. */
  immediateBeats: number;
  /** Immediate beats skipped because their state and token had already gone out. */
  skippedBeats: number;
  /** Times the HTTP client was rebuilt after repeated transport errors. */
  clientRebuilds: number;
  /** Requests in flight now (beats and platform checks). */
  inFlight: number;
}

export interface BeatResult {
  ok: boolean;
  /** HTTP status, when a response came. */
  status?: number;
  /** True when nothing was sent (already up to date, stopped, or in backoff). */
  skipped?: boolean;
  error?: string;
}

export interface OutageRecoveredEvent {
  /** `outage`: beats failed for longer than the TTL. `platform-lost`: the platform no longer lists us. */
  reason: "outage" | "platform-lost";
  /** For `outage`: ms since the last success (or start). */
  downMs?: number;
  /** For `platform-lost`: `"not-found"` or `"offline"`. */
  platformStatus?: string;
}

export interface UnauthorizedStreakEvent {
  workspaceId: string;
  streak: number;
}

export interface Heartbeat {
  /** Beats at once, then on the schedule. Idempotent. */
  start(): void;
  /** Stops the loop, sends one final beat with `active_tasks: 0` (bounded by 2 s), resolves when nothing is in flight. */
  stop(): Promise<void>;
  /** A beat now (coalesced with other immediate beats, at most one per 250 ms). */
  beatNow(reason: string): Promise<BeatResult>;
  stats(): HeartbeatStats;
  /** The daemon re-registers on it. Returns an unsubscribe. */
  onOutageRecovered(listener: (event: OutageRecoveredEvent) => void): () => void;
  /** Fires with the ERROR log: 3 consecutive 401s, then every 20 more. Returns an unsubscribe. */
  onUnauthorizedStreak(listener: (event: UnauthorizedStreakEvent) => void): () => void;
}

const IMMEDIATE_SPACING_MS = 250;
const FINAL_BEAT_BUDGET_MS = 2_000;
const UNAUTHORIZED_ALERT_AT = 3;
const UNAUTHORIZED_ALERT_EVERY = 20;
const REBUILD_AFTER_TRANSPORT_ERRORS = 3;

const workspaceView = z.object({ status: z.string() });

type Classified =
  | { kind: "ok" }
  | { kind: "unauthorized" }
  | { kind: "backoff"; transport: boolean; retryAfterMs?: number }
  | { kind: "rejected" }
  | { kind: "aborted" };

interface Pending {
  reasons: Set<string>;
  force: boolean;
  waiters: Array<(result: BeatResult) => void>;
}

function classify(result: HttpResult, nowMs: number): Classified {
  if (result.kind === "error") {
    if (result.failure === "aborted") return { kind: "aborted" };
    return { kind: "backoff", transport: true };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: "ok" };
  if (status === 401) return { kind: "unauthorized" };
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfterMs(result.headers["retry-after"], nowMs);
    return retryAfterMs === undefined
      ? { kind: "backoff", transport: false }
      : { kind: "backoff", transport: false, retryAfterMs };
  }
  return { kind: "rejected" };
}

function describe(result: HttpResult): string {
  if (result.kind === "error") return `${result.failure}: ${result.message}`;
  const excerpt = result.text.slice(0, 200).replace(/\s+/g, " ");
  return `HTTP ${result.status}${excerpt ? ` ${excerpt}` : ""}`;
}

/** The heartbeat loop: periodic beats with jitter, immediate beats on state change, 401 and outage handling. */
export function createHeartbeat(options: HeartbeatOptions): Heartbeat {
  const code = "E_HEARTBEAT_BAD_OPTION";
  const { base, id: workspaceId } = validateBase(options.platformUrl, options.workspaceId, code);
  if (!options.tokens || typeof options.tokens.headers !== "function") {
    throw new HeartbeatError({
      code,
      message: "tokens must be a platform token store (createTokenStore from @molecule/auth)",
    });
  }
  if (typeof options.metadata !== "function") {
    throw new HeartbeatError({ code, message: "metadata must be a function returning the runtime metadata" });
  }
  if (!options.tasks || typeof options.tasks.snapshot !== "function") {
    throw new HeartbeatError({ code, message: "tasks must be a task tracker (createTaskTracker())" });
  }
  const intervalMs = positive(options.intervalMs, 30_000, "intervalMs", code);
  const requestTimeoutMs = positive(options.requestTimeoutMs, 10_000, "requestTimeoutMs", code);
  const ttlMs = positive(options.ttlMs, 180_000, "ttlMs", code);
  const jitter = options.jitter ?? 0.1;
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter < 1)) {
    throw new HeartbeatError({ code, message: `jitter must be in [0, 1), got ${String(jitter)}` });
  }
  const checkEvery = options.platformCheckEvery ?? 5;
  if (!Number.isInteger(checkEvery) || checkEvery < 1) {
    throw new HeartbeatError({
      code,
      message: `platformCheckEvery must be an integer >= 1, got ${String(checkEvery)}`,
    });
  }
  const { tokens, tasks } = options;
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? silentLogger;
  const http = createHttpClient({ clock, dispatcher: options.dispatcher });
  if (intervalMs * (1 + jitter) > ttlMs / 2) {
    logger.warn(
      { event: "heartbeat.interval_too_long", intervalMs, ttlMs },
      `intervalMs ${intervalMs} lets beats drift past TTL/2 (${ttlMs / 2} ms); the platform may mark this workspace offline — use a shorter interval`,
    );
  }
  const beatUrl = `${base}/registry/heartbeat`;
  const workspaceUrl = `${base}/workspaces/${encodeURIComponent(workspaceId)}`;

  // ---- state ------------------------------------------------------------------------------
  let started = false;
  let stopping: Promise<void> | undefined;
  let startedAt = clock.now();
  let pushes = 0;
  let lastMetadata: RuntimeMetadata | undefined;
  let metadataWarned = false;

  let tickTimer: unknown;
  let spacingTimer: unknown;
  let tickNumber = 0;
  let tickStartedAt = 0;
  let periodMs = intervalMs;
  let pendingTick = false;
  let pending: Pending | undefined;
  let lastImmediateAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;
  let checksInFlight = 0;
  const aborter = new AbortController();

  let lastSentKey: string | undefined;
  let lastSentAuth: string | undefined;
  let deadAuth: string | undefined; // the Authorization that just got a 401
  let backoffN = 0;
  let transportStreak = 0;
  let successes = 0;
  const counters: Omit<HeartbeatStats, "running" | "inFlight"> = {
    beatsOk: 0,
    beatsFailed: 0,
    consecutiveFailures: 0,
    unauthorizedStreak: 0,
    lastStatus: undefined,
    platformStatus: undefined,
    lastError: undefined,
    lastSuccessAt: undefined,
    immediateBeats: 0,
    skippedBeats: 0,
    clientRebuilds: 0,
  };

  const outageListeners = new Set<(event: OutageRecoveredEvent) => void>();
  const streakListeners = new Set<(event: UnauthorizedStreakEvent) => void>();
  const unsubscribers: Array<() => void> = [];

  const emit = <T>(set: Set<(event: T) => void>, event: T, name: string) => {
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        logger.warn(
          { event: "heartbeat.listener_failed", listener: name, err: errorText(error) },
          `an ${name} listener threw`,
        );
      }
    }
  };

  // ---- the body ---------------------------------------------------------------------------
  const metadata = (): RuntimeMetadata | undefined => {
    try {
      lastMetadata = options.metadata();
    } catch (error) {
      if (!metadataWarned) {
        metadataWarned = true;
        logger.warn(
          { event: "heartbeat.metadata_failed", err: errorText(error) },
          "the metadata callback threw; sending the last good runtime_metadata",
        );
      }
    }
    return lastMetadata;
  };

  const buildBody = (final: boolean): { body: HeartbeatBody; key: string } => {
    let uptime = Math.floor((clock.now() - startedAt) / 1_000);
    if (pushes > 0) uptime = Math.max(1, uptime); // never 0 in a later push
    const body = buildHeartbeatBody({
      workspaceId,
      uptimeSeconds: uptime,
      tasks: tasks.snapshot(),
      wedge: wedgeState(),
      metadata: metadata(),
      final,
    });
    const { uptime_seconds: _uptime, ...state } = body;
    return { body, key: JSON.stringify(state) };
  };

  // ---- one beat (its one 401 retry included) ----------------------------------------------
  const safeHeaders = async (): Promise<Record<string, string>> => {
    try {
      return await tokens.headers();
    } catch (error) {
      logger.warn(
        { event: "heartbeat.token_read_failed", err: errorText(error) },
        "reading the platform token failed; sending without it",
      );
      return {};
    }
  };

  const post = (body: HeartbeatBody, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal) => {
    pushes += 1;
    return http.send({ method: "POST", url: beatUrl, headers, body, timeoutMs, signal });
  };

  const beatOnce = async (
    kind: "tick" | "immediate" | "final",
    force: boolean,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<{ result: BeatResult; classified?: Classified }> => {
    let { body, key } = buildBody(kind === "final");
    let headers = await safeHeaders();
    let auth = authorizationOf(headers);
    if (kind === "immediate" && !force) {
      if (key === lastSentKey && auth === lastSentAuth) {
        counters.skippedBeats += 1;
        return { result: { ok: true, skipped: true } };
      }
      if (deadAuth !== undefined && auth === deadAuth) {
        // This token just got a 401 and nothing on disk changed: the next tick re-checks.
        counters.skippedBeats += 1;
        return {
          result: { ok: false, skipped: true, error: "token rejected; waiting for a new token or the next tick" },
        };
      }
    }
    lastSentKey = key;
    lastSentAuth = auth;
    let response = await post(body, headers, timeoutMs, signal);
    if (response.kind === "response" && response.status === 401) {
      let changed = false;
      try {
        changed = (await tokens.refreshFromDisk(tokenOf(auth))).changed;
      } catch (error) {
        logger.warn(
          { event: "heartbeat.token_refresh_failed", err: errorText(error) },
          "re-reading the token file failed",
        );
      }
      if (changed) {
        const fresh = await safeHeaders();
        const freshAuth = authorizationOf(fresh);
        if (freshAuth !== undefined && freshAuth !== auth) {
          logger.info(
            { event: "heartbeat.retry_rotated", workspaceId },
            "401 with a token that has since rotated; retrying once",
          );
          headers = fresh;
          auth = freshAuth;
          ({ body, key } = buildBody(kind === "final"));
          lastSentKey = key;
          lastSentAuth = auth;
          response = await post(body, headers, timeoutMs, signal);
        }
      }
    }
    const classified = classify(response, clock.now());
    record(classified, response, auth);
    const status = response.kind === "response" ? response.status : undefined;
    const result: BeatResult = { ok: classified.kind === "ok" };
    if (status !== undefined) result.status = status;
    if (classified.kind !== "ok") result.error = describe(response);
    return { result, classified };
  };

  const record = (classified: Classified, response: HttpResult, auth: string | undefined) => {
    if (classified.kind === "aborted") return;
    counters.lastStatus = response.kind === "response" ? response.status : undefined;
    const now = clock.now();
    if (classified.kind === "ok") {
      const hadFailures = counters.consecutiveFailures > 0;
      const since = counters.lastSuccessAt ?? startedAt;
      counters.beatsOk += 1;
      counters.consecutiveFailures = 0;
      counters.unauthorizedStreak = 0;
      counters.lastSuccessAt = now;
      backoffN = 0;
      transportStreak = 0;
      deadAuth = undefined;
      successes += 1;
      logger.debug?.({ event: "heartbeat.ok" }, "heartbeat delivered");
      if (hadFailures && now - since > ttlMs) {
        logger.info(
          { event: "heartbeat.outage_recovered", workspaceId, downMs: now - since },
          "heartbeats are back after an outage longer than the TTL; re-register",
        );
        emit(outageListeners, { reason: "outage", downMs: now - since }, "onOutageRecovered");
      }
      if (started && !stopping && successes % checkEvery === 0) void checkPlatform();
      return;
    }
    counters.beatsFailed += 1;
    counters.consecutiveFailures += 1;
    counters.lastError = describe(response);
    if (classified.kind === "unauthorized") {
      counters.unauthorizedStreak += 1;
      deadAuth = auth;
      backoffN = 0;
      const streak = counters.unauthorizedStreak;
      logger.warn({ event: "heartbeat.unauthorized", workspaceId, streak }, "heartbeat rejected with 401");
      if (streak >= UNAUTHORIZED_ALERT_AT && (streak - UNAUTHORIZED_ALERT_AT) % UNAUTHORIZED_ALERT_EVERY === 0) {
        logger.error(
          { event: "heartbeat.unauthorized_streak", workspaceId, streak },
          `workspace ${workspaceId}: ${streak} consecutive 401s — token revoked or workspace removed; re-provision or re-register`,
        );
        emit(streakListeners, { workspaceId, streak }, "onUnauthorizedStreak");
      }
      return;
    }
    if (classified.kind === "backoff") {
      backoffN += 1;
      if (classified.transport) {
        transportStreak += 1;
        if (transportStreak % REBUILD_AFTER_TRANSPORT_ERRORS === 0 && http.rebuild()) {
          counters.clientRebuilds += 1;
          logger.info(
            { event: "heartbeat.client_rebuilt", transportErrors: transportStreak },
            "rebuilt the HTTP client",
          );
        }
      }
    }
    logger.warn(
      {
        event: "heartbeat.failed",
        workspaceId,
        status: counters.lastStatus,
        attempt: counters.consecutiveFailures,
        err: counters.lastError,
      },
      "heartbeat failed",
    );
  };

  // ---- the platform's view of us ----------------------------------------------------------
  const checkPlatform = async () => {
    checksInFlight += 1;
    try {
      const headers = await safeHeaders();
      const noAuth: Record<string, string> = {};
      for (const [key, value] of Object.entries(headers))
        if (key.toLowerCase() !== "authorization") noAuth[key] = value;
      const res = await http.send({
        method: "GET",
        url: workspaceUrl,
        headers: noAuth,
        timeoutMs: requestTimeoutMs,
        signal: aborter.signal,
      });
      if (res.kind !== "response") return;
      let lost: string | undefined;
      if (res.status === 404) {
        counters.platformStatus = "not-found";
        lost = "not-found";
      } else if (res.status === 200) {
        let parsed: ReturnType<typeof workspaceView.safeParse> | undefined;
        try {
          parsed = workspaceView.safeParse(JSON.parse(res.text));
        } catch {
          parsed = undefined;
        }
        if (!parsed?.success) return;
        counters.platformStatus = parsed.data.status;
        if (parsed.data.status === "offline") lost = "offline";
      }
      if (lost && !stopping) {
        logger.warn(
          { event: "heartbeat.platform_lost", workspaceId, platformStatus: lost },
          "the platform has lost this workspace; re-register",
        );
        emit(outageListeners, { reason: "platform-lost", platformStatus: lost }, "onOutageRecovered");
      }
    } finally {
      checksInFlight -= 1;
    }
  };

  // ---- the loop ---------------------------------------------------------------------------
  const schedule = (delayMs: number) => {
    if (tickTimer !== undefined) clock.clearTimeout(tickTimer);
    tickTimer = clock.setTimeout(onTick, Math.max(0, delayMs));
  };

  const onTick = () => {
    tickTimer = undefined;
    tickNumber += 1;
    tickStartedAt = clock.now();
    periodMs = nextBeatDelayMs(tickNumber, intervalMs, jitter, random);
    pendingTick = true;
    drain();
  };

  const run = (kind: "tick" | "immediate", force: boolean, waiters: Array<(r: BeatResult) => void>) => {
    const task = (async () => {
      let outcome: { result: BeatResult; classified?: Classified };
      try {
        outcome = await beatOnce(kind, force, aborter.signal, requestTimeoutMs);
      } catch (error) {
        logger.error({ event: "heartbeat.bug", err: errorText(error) }, "unexpected error in the heartbeat loop");
        outcome = { result: { ok: false, error: errorText(error) } };
      }
      for (const resolve of waiters) resolve(outcome.result);
      if (stopping || !started) return; // a beatNow() without start() never starts the loop
      const c = outcome.classified;
      if (c?.kind === "backoff") {
        schedule(backoffDelayMs(backoffN, intervalMs, jitter, random, c.retryAfterMs));
      } else if (kind === "tick") {
        schedule(tickStartedAt + periodMs - clock.now());
      }
    })();
    inFlight = task;
    void task.finally(() => {
      if (inFlight === task) inFlight = undefined;
      drain();
    });
  };

  function drain() {
    if (inFlight || stopping) return;
    if (pendingTick) {
      pendingTick = false;
      // The tick carries the latest state: it answers a pending immediate request too.
      const waiters = pending?.waiters ?? [];
      pending = undefined;
      run("tick", true, waiters);
      return;
    }
    if (!pending) return;
    const now = clock.now();
    if (now - lastImmediateAt < IMMEDIATE_SPACING_MS) {
      if (spacingTimer === undefined) {
        spacingTimer = clock.setTimeout(
          () => {
            spacingTimer = undefined;
            drain();
          },
          lastImmediateAt + IMMEDIATE_SPACING_MS - now,
        );
      }
      return;
    }
    const { force, waiters, reasons } = pending;
    pending = undefined;
    lastImmediateAt = now;
    counters.immediateBeats += 1;
    logger.debug?.({ event: "heartbeat.immediate", reasons: [...reasons] }, "immediate heartbeat");
    run("immediate", force, waiters);
  }

  const requestImmediate = (reason: string, force: boolean): Promise<BeatResult> => {
    if (stopping) return Promise.resolve({ ok: false, skipped: true, error: "stopped" });
    if (!force && backoffN > 0) {
      // The platform is failing: the next backoff attempt carries the latest state anyway.
      counters.skippedBeats += 1;
      return Promise.resolve({ ok: false, skipped: true, error: "in backoff; the next attempt carries this state" });
    }
    return new Promise((resolve) => {
      pending ??= { reasons: new Set(), force: false, waiters: [] };
      pending.reasons.add(reason);
      pending.force ||= force;
      pending.waiters.push(resolve);
      drain();
    });
  };

  const stats = (): HeartbeatStats => ({
    running: started && !stopping,
    ...counters,
    inFlight: (inFlight ? 1 : 0) + checksInFlight,
  });

  return {
    start() {
      if (started || stopping) return;
      started = true;
      startedAt = clock.now();
      pushes = 0;
      unsubscribers.push(onWedgeChange(() => void requestImmediate("wedge", false)));
      if (typeof tasks.onChange === "function")
        unsubscribers.push(tasks.onChange(() => void requestImmediate("task", false)));
      if (typeof tokens.onRotated === "function") {
        unsubscribers.push(tokens.onRotated(() => void requestImmediate("token", false)));
      }
      onTick();
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (tickTimer !== undefined) clock.clearTimeout(tickTimer);
        if (spacingTimer !== undefined) clock.clearTimeout(spacingTimer);
        tickTimer = spacingTimer = undefined;
        for (const off of unsubscribers.splice(0)) off();
        if (pending) for (const resolve of pending.waiters) resolve({ ok: false, skipped: true, error: "stopped" });
        pending = undefined;
        pendingTick = false;
        // Whatever is in flight carries state the final beat supersedes.
        aborter.abort();
        if (inFlight) await inFlight;
        if (started) {
          const controller = new AbortController();
          const budget = clock.setTimeout(() => controller.abort(), FINAL_BEAT_BUDGET_MS);
          const finalBeat = beatOnce("final", true, controller.signal, Math.min(requestTimeoutMs, FINAL_BEAT_BUDGET_MS))
            .then(({ result }) => {
              logger.info({ event: "heartbeat.final", ok: result.ok, status: result.status }, "final heartbeat sent");
            })
            .catch(() => {});
          inFlight = finalBeat;
          await finalBeat;
          inFlight = undefined;
          clock.clearTimeout(budget);
        }
        await http.close();
      })();
      return stopping;
    },
    beatNow(reason) {
      return requestImmediate(typeof reason === "string" && reason ? reason : "manual", true);
    },
    stats,
    onOutageRecovered(listener) {
      const wrapped = (event: OutageRecoveredEvent) => listener(event);
      outageListeners.add(wrapped);
      return () => {
        outageListeners.delete(wrapped);
      };
    },
    onUnauthorizedStreak(listener) {
      const wrapped = (event: UnauthorizedStreakEvent) => listener(event);
      streakListeners.add(wrapped);
      return () => {
        streakListeners.delete(wrapped);
      };
    },
  };
}
