import { CAPABILITY_NAMES } from "@molecule/internal";
import { onWedgeChange } from "@molecule/wedge";
import { HeartbeatError } from "../errors.js";
import { holdOpen } from "../hold-open.js";
import { createHttpClient } from "../http.js";
import { positive, validateBase } from "../options.js";
import { checkPhase, spreadDelayMs } from "../schedule.js";
import { errorText, realClock, silentLogger } from "../types.js";
import { createBeat } from "./beat.js";
import { createPlatformCheck } from "./check.js";
import { createCounters, createEvents } from "./counters.js";
import { createBeatLoop } from "./loop.js";
import { metadataProblem } from "./metadata.js";
import type { Heartbeat, HeartbeatOptions, HeartbeatStats } from "./types.js";

const FINAL_BEAT_BUDGET_MS = 2_000;

/** The first `metadata()` result must pass the schema: a wrong one would fail every beat. */
function firstMetadata(metadata: () => unknown): void {
  let value: unknown;
  try {
    value = metadata();
  } catch (error) {
    throw new HeartbeatError({
      code: "E_HEARTBEAT_BAD_OPTION",
      message: `metadata() threw: ${errorText(error)}; it must return { capabilities: { ${CAPABILITY_NAMES.join(", ")} } } (start from defaultCapabilities)`,
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
  const { tokens, tasks: tracker } = options;
  const clock = options.clock ?? realClock;
  const logger = options.logger ?? silentLogger;
  const http = createHttpClient({ clock, dispatcher: options.dispatcher });
  if (intervalMs * (1 + jitter) > ttlMs / 2) {
    logger.warn(
      { event: "heartbeat.interval_too_long", intervalMs, ttlMs },
      `intervalMs ${intervalMs} lets beats drift past TTL/2 (${ttlMs / 2} ms); the platform may mark this workspace offline — use a shorter interval`,
    );
  }

  const random = options.random ?? Math.random;
  // The backoff cap while the platform has not known us for longer than the TTL.
  const lostCapMs = Math.max(intervalMs, ttlMs / 3);
  // The lifecycle, written here only: `start()` sets `started`, `stop()` sets `stopping`.
  let started = false;
  let stopping: Promise<void> | undefined;
  const running = () => started && !stopping;
  const isStopping = () => stopping !== undefined;
  const aborter = new AbortController();

  // Work that may wait up to one interval (the re-register after a long outage, the check after a
  // recovery) goes at this loop's spread offset: a fleet that recovers together does not herd.
  // Wedges, tokens and task changes never wait (they are immediate beats).
  const deferred = new Set<unknown>();
  const spread = (work: () => void) => {
    const delayMs = spreadDelayMs(intervalMs, jitter, random);
    if (delayMs <= 0) return work();
    const handle = clock.setTimeout(() => {
      deferred.delete(handle);
      if (running()) work();
    }, delayMs);
    deferred.add(handle);
  };

  const counters = createCounters();
  const events = createEvents(counters, logger);
  const check = createPlatformCheck({
    workspaceUrl: `${base}/workspaces/${encodeURIComponent(workspaceId)}`,
    workspaceId,
    requestTimeoutMs,
    tokens,
    http,
    logger,
    counters,
    emitOutageRecovered: events.emitOutageRecovered,
    signal: aborter.signal,
    stopping: isStopping,
  });
  const beat = createBeat({
    workspaceId,
    beatUrl: `${base}/registry/heartbeat`,
    ttlMs,
    checkEvery,
    checkPhase: checkPhase(checkEvery, jitter, random),
    tokens,
    tracker,
    metadata: () => options.metadata(),
    clock,
    logger,
    http,
    counters,
    emitOutageRecovered: (event) => spread(() => events.emitOutageRecovered(event)),
    emitUnauthorizedStreak: events.emitUnauthorizedStreak,
    emitWorkspaceUnknown: events.emitWorkspaceUnknown,
    lostCapMs,
    checkPlatform: (afterOutage) => (afterOutage ? spread(() => void check.run()) : void check.run()),
    running,
  });
  const loop = createBeatLoop({
    intervalMs,
    jitter,
    random,
    requestTimeoutMs,
    clock,
    logger,
    counters,
    beat,
    backoffCapMs: () => (counters.read.workspaceLost ? lostCapMs : intervalMs),
    signal: aborter.signal,
    started: () => started,
    stopping: isStopping,
  });
  const unsubscribers: Array<() => void> = [];
  const hold = holdOpen(options.unref === true);

  const stats = (): HeartbeatStats => ({
    running: running(),
    ...counters.read,
    inFlight: (loop.busy() ? 1 : 0) + check.inFlight(),
  });

  return {
    async start() {
      if (started || stopping) return;
      firstMetadata(options.metadata);
      started = true;
      hold.acquire();
      beat.restart();
      unsubscribers.push(onWedgeChange(() => void loop.requestImmediate("wedge", false)));
      if (typeof tracker.onChange === "function")
        unsubscribers.push(tracker.onChange(() => void loop.requestImmediate("task", false)));
      if (typeof tokens.onRotated === "function") {
        unsubscribers.push(tokens.onRotated(() => void loop.requestImmediate("token", false)));
      }
      loop.tick();
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        for (const off of unsubscribers.splice(0)) off();
        for (const handle of deferred) clock.clearTimeout(handle);
        deferred.clear();
        loop.cancel();
        // Whatever is in flight carries state the final beat supersedes.
        aborter.abort();
        await loop.settle();
        if (started) {
          const controller = new AbortController();
          const budget = clock.setTimeout(() => controller.abort(), FINAL_BEAT_BUDGET_MS);
          await loop.runFinal(() =>
            beat
              .once("final", true, controller.signal, Math.min(requestTimeoutMs, FINAL_BEAT_BUDGET_MS))
              .then(({ result }) => {
                logger.info({ event: "heartbeat.final", ok: result.ok, status: result.status }, "final heartbeat sent");
              })
              .catch(() => {}),
          );
          clock.clearTimeout(budget);
        }
        await http.close();
        hold.release();
      })();
      return stopping;
    },
    beatNow(reason) {
      return loop.requestImmediate(typeof reason === "string" && reason ? reason : "manual", true);
    },
    stats,
    onOutageRecovered: events.onOutageRecovered,
    onUnauthorizedStreak: events.onUnauthorizedStreak,
    onWorkspaceUnknown: events.onWorkspaceUnknown,
  };
}
