import { onWedgeChange } from "@molecule/wedge";
import { HeartbeatError } from "../errors.js";
import { holdOpen } from "../hold-open.js";
import { createHttpClient } from "../http.js";
import { positive, validateBase } from "../options.js";
import { errorText, realClock, silentLogger } from "../types.js";
import { createBeat } from "./beat.js";
import { createPlatformCheck } from "./check.js";
import { createBeatLoop } from "./loop.js";
import { metadataProblem } from "./metadata.js";
import type { HeartbeatState } from "./state.js";
import type {
  Heartbeat,
  HeartbeatOptions,
  HeartbeatStats,
  OutageRecoveredEvent,
  UnauthorizedStreakEvent,
} from "./types.js";

const FINAL_BEAT_BUDGET_MS = 2_000;

/** The first `metadata()` result must pass the schema: a wrong one would fail every beat. */
function firstMetadata(metadata: () => unknown): void {
  let value: unknown;
  try {
    value = metadata();
  } catch (error) {
    throw new HeartbeatError({
      code: "E_HEARTBEAT_BAD_OPTION",
      message: `metadata() threw: ${errorText(error)}; it must return { capabilities: { heartbeat, scheduler, session, status_mgmt, retry, activity_decoration, channel_dispatch } } (start from defaultCapabilities)`,
      cause: error,
    });
  }
  const problem = metadataProblem(value);
  if (problem !== undefined) {
    throw new HeartbeatError({
      code: "E_HEARTBEAT_BAD_OPTION",
      message: `metadata() returned an invalid runtime_metadata: ${problem}; return { capabilities: { ...defaultCapabilities } } with every flag a boolean (idle_timeout_seconds, when set, a positive integer)`,
    });
  }
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
  const logger = options.logger ?? silentLogger;
  const http = createHttpClient({ clock, dispatcher: options.dispatcher });
  if (intervalMs * (1 + jitter) > ttlMs / 2) {
    logger.warn(
      { event: "heartbeat.interval_too_long", intervalMs, ttlMs },
      `intervalMs ${intervalMs} lets beats drift past TTL/2 (${ttlMs / 2} ms); the platform may mark this workspace offline — use a shorter interval`,
    );
  }

  const state: HeartbeatState = {
    workspaceId,
    beatUrl: `${base}/registry/heartbeat`,
    workspaceUrl: `${base}/workspaces/${encodeURIComponent(workspaceId)}`,
    intervalMs,
    requestTimeoutMs,
    ttlMs,
    jitter,
    checkEvery,
    tokens,
    tasks,
    metadata: () => options.metadata(),
    clock,
    random: options.random ?? Math.random,
    logger,
    http,
    aborter: new AbortController(),
    counters: {
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
      internalErrors: 0,
      lastInternalError: undefined,
    },
    outageListeners: new Set(),
    streakListeners: new Set(),
    started: false,
    stopping: undefined,
    startedAt: clock.now(),
    pushes: 0,
    lastMetadata: undefined,
    metadataWarned: false,
    inFlight: undefined,
    checksInFlight: 0,
    lastSentKey: undefined,
    lastSentAuth: undefined,
    deadAuth: undefined,
    backoffN: 0,
    transportStreak: 0,
    successes: 0,
  };
  const beatOnce = createBeat(state, createPlatformCheck(state));
  const loop = createBeatLoop(state, beatOnce);
  const unsubscribers: Array<() => void> = [];
  const hold = holdOpen(options.unref === true);

  const stats = (): HeartbeatStats => ({
    running: state.started && !state.stopping,
    ...state.counters,
    inFlight: (state.inFlight ? 1 : 0) + state.checksInFlight,
  });

  return {
    async start() {
      if (state.started || state.stopping) return;
      firstMetadata(options.metadata);
      state.started = true;
      hold.acquire();
      state.startedAt = clock.now();
      state.pushes = 0;
      unsubscribers.push(onWedgeChange(() => void loop.requestImmediate("wedge", false)));
      if (typeof tasks.onChange === "function")
        unsubscribers.push(tasks.onChange(() => void loop.requestImmediate("task", false)));
      if (typeof tokens.onRotated === "function") {
        unsubscribers.push(tokens.onRotated(() => void loop.requestImmediate("token", false)));
      }
      loop.tick();
    },
    stop() {
      if (state.stopping) return state.stopping;
      state.stopping = (async () => {
        for (const off of unsubscribers.splice(0)) off();
        loop.cancel();
        // Whatever is in flight carries state the final beat supersedes.
        state.aborter.abort();
        if (state.inFlight) await state.inFlight;
        if (state.started) {
          const controller = new AbortController();
          const budget = clock.setTimeout(() => controller.abort(), FINAL_BEAT_BUDGET_MS);
          const finalBeat = beatOnce("final", true, controller.signal, Math.min(requestTimeoutMs, FINAL_BEAT_BUDGET_MS))
            .then(({ result }) => {
              logger.info({ event: "heartbeat.final", ok: result.ok, status: result.status }, "final heartbeat sent");
            })
            .catch(() => {});
          state.inFlight = finalBeat;
          await finalBeat;
          state.inFlight = undefined;
          clock.clearTimeout(budget);
        }
        await http.close();
        hold.release();
      })();
      return state.stopping;
    },
    beatNow(reason) {
      return loop.requestImmediate(typeof reason === "string" && reason ? reason : "manual", true);
    },
    stats,
    onOutageRecovered(listener) {
      const wrapped = (event: OutageRecoveredEvent) => listener(event);
      state.outageListeners.add(wrapped);
      return () => {
        state.outageListeners.delete(wrapped);
      };
    },
    onUnauthorizedStreak(listener) {
      const wrapped = (event: UnauthorizedStreakEvent) => listener(event);
      state.streakListeners.add(wrapped);
      return () => {
        state.streakListeners.delete(wrapped);
      };
    },
  };
}
