import { createMasker } from "@molecule/internal";
import { wedgeState } from "@molecule/wedge";
import { maskedExcerpt } from "../excerpt.js";
import type { HttpClient, HttpResult } from "../http.js";
import { authorizationOf, tokenOf } from "../options.js";
import { parseRetryAfterMs } from "../schedule.js";
import type { TaskTracker } from "../tracker/tracker.js";
import type { Clock, HeartbeatLogger, PlatformTokens } from "../types.js";
import { errorText } from "../types.js";
import { buildHeartbeatBody, type HeartbeatBody, type RuntimeMetadata } from "./body.js";
import { type Counters, type HeartbeatEvents, safeHeaders } from "./counters.js";
import { metadataProblem } from "./metadata.js";
import type { BeatResult } from "./types.js";

/** How a beat's answer is handled. @internal */
export type Classified =
  | { kind: "ok" }
  | { kind: "unauthorized" }
  | { kind: "backoff"; transport: boolean; retryAfterMs?: number }
  /** 404: the platform does not know this workspace (re-register; backs off like `backoff`). */
  | { kind: "unknown" }
  | { kind: "rejected" }
  | { kind: "aborted" };

/** One beat (its one 401 retry included). @internal */
export type BeatOnce = (
  kind: "tick" | "immediate" | "final",
  force: boolean,
  signal: AbortSignal,
  timeoutMs: number,
) => Promise<{ result: BeatResult; classified?: Classified }>;

/** What a beat uses. @internal */
export interface BeatInput {
  workspaceId: string;
  /** `<base>/registry/heartbeat` */
  beatUrl: string;
  ttlMs: number;
  /** Check the platform's view on every n-th successful beat. */
  checkEvery: number;
  /** This loop's phase in [0, checkEvery): which of every n successful beats carries the check. */
  checkPhase: number;
  tokens: PlatformTokens;
  tracker: Pick<TaskTracker, "snapshot">;
  metadata: () => RuntimeMetadata;
  clock: Clock;
  logger: HeartbeatLogger;
  http: HttpClient;
  counters: Counters;
  /** Called (by the heartbeat, at this loop's spread offset) after an outage longer than the TTL. */
  emitOutageRecovered: HeartbeatEvents["emitOutageRecovered"];
  emitUnauthorizedStreak: HeartbeatEvents["emitUnauthorizedStreak"];
  emitWorkspaceUnknown: HeartbeatEvents["emitWorkspaceUnknown"];
  /** The slowest beat while the platform has not known us for longer than the TTL, ms. */
  lostCapMs: number;
  /** `afterOutage`: the first good beat after failures (the heartbeat spreads that check over an interval). */
  checkPlatform: (afterOutage: boolean) => void;
  /** Started and not stopping. */
  running: () => boolean;
}

/** @internal */
export interface Beat {
  once: BeatOnce;
  /** Backoff steps since the last success (0: not in backoff). */
  backoffLevel(): number;
  /** `start()`: uptime counts from now. */
  restart(): void;
}

const UNAUTHORIZED_ALERT_AT = 3;
const UNAUTHORIZED_ALERT_EVERY = 20;
const REBUILD_AFTER_TRANSPORT_ERRORS = 3;

function classify(result: HttpResult, nowMs: number): Classified {
  if (result.kind === "error") {
    if (result.failure === "aborted") return { kind: "aborted" };
    return { kind: "backoff", transport: true };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return { kind: "ok" };
  if (status === 401) return { kind: "unauthorized" };
  // docs/CONTRACT.md: heartbeat is exempt from the org check, so a 404 here means "workspace not found".
  if (status === 404) return { kind: "unknown" };
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfterMs(result.headers["retry-after"], nowMs);
    return retryAfterMs === undefined
      ? { kind: "backoff", transport: false }
      : { kind: "backoff", transport: false, retryAfterMs };
  }
  return { kind: "rejected" };
}

/**
 * The answer in one line for logs and `lastError`: masked by the house masker (`@molecule/internal`)
 * — the token it was sent, bearer headers, `sk-…` keys, JWTs, platform tokens, secret-named
 * assignments — before it is cut (`maskedExcerpt`).
 */
function describe(result: HttpResult, token?: string): string {
  const masker = createMasker({ values: [token] });
  if (result.kind === "error") return `${result.failure}: ${maskedExcerpt(result.message, 300, masker)}`;
  if (result.tooLarge) return `HTTP ${result.status} (a body over ${result.tooLarge.limit} bytes, not read)`;
  const excerpt = maskedExcerpt(result.text, 200, masker);
  return `HTTP ${result.status}${excerpt ? ` ${excerpt}` : ""}`;
}

/**
 * One beat: the body, the POST, its one 401 retry with a rotated token, and what the answer does to
 * the counters (backoff, 401 streak, outage recovery, the every-n-th platform check). @internal
 */
export function createBeat(input: BeatInput): Beat {
  const { clock, logger, counters, tokens, workspaceId, http } = input;
  let startedAt = clock.now();
  /** Beats posted since start (the first may report uptime 0). */
  let pushes = 0;
  let lastMetadata: RuntimeMetadata | undefined;
  let metadataWarned = false;
  /** State (body without uptime) and Authorization of the last beat sent. */
  let lastSentKey: string | undefined;
  let lastSentAuth: string | undefined;
  /** The Authorization that just got a 401. */
  let deadAuth: string | undefined;
  let backoffN = 0;
  let transportStreak = 0;
  let successes = 0;

  // ---- the body ---------------------------------------------------------------------------
  const metadata = (): RuntimeMetadata | undefined => {
    let problem: string;
    try {
      const value: unknown = input.metadata();
      const invalid = metadataProblem(value);
      if (invalid === undefined) {
        lastMetadata = value as RuntimeMetadata;
        metadataWarned = false;
        return lastMetadata;
      }
      problem = `metadata() returned an invalid runtime_metadata (${invalid})`;
    } catch (error) {
      problem = `metadata() threw: ${errorText(error)}`;
    }
    counters.internalError("metadata", problem);
    if (!metadataWarned) {
      metadataWarned = true;
      logger.warn(
        { event: "heartbeat.metadata_failed", err: problem },
        `${problem}; sending the last good runtime_metadata`,
      );
    }
    return lastMetadata;
  };

  const buildBody = (final: boolean): { body: HeartbeatBody; key: string } => {
    let uptime = Math.floor((clock.now() - startedAt) / 1_000);
    if (pushes > 0) uptime = Math.max(1, uptime); // never 0 in a later push
    const body = buildHeartbeatBody({
      workspaceId,
      uptimeSeconds: uptime,
      tasks: input.tracker.snapshot(),
      wedge: wedgeState(),
      metadata: metadata(),
      final,
    });
    const { uptime_seconds: _uptime, ...rest } = body;
    return { body, key: JSON.stringify(rest) };
  };

  // ---- one beat (its one 401 retry included) ----------------------------------------------
  const post = (body: HeartbeatBody, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal) => {
    pushes += 1;
    return http.send({ method: "POST", url: input.beatUrl, headers, body, timeoutMs, signal });
  };

  const beatOnce: BeatOnce = async (kind, force, signal, timeoutMs) => {
    let { body, key } = buildBody(kind === "final");
    let headers = await safeHeaders(tokens, logger);
    let auth = authorizationOf(headers);
    if (kind === "immediate" && !force) {
      if (key === lastSentKey && auth === lastSentAuth) {
        counters.skippedBeat();
        return { result: { ok: true, skipped: true } };
      }
      if (deadAuth !== undefined && auth === deadAuth) {
        // This token just got a 401 and nothing on disk changed: the next tick re-checks.
        counters.skippedBeat();
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
        const fresh = await safeHeaders(tokens, logger);
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
    const error = classified.kind === "ok" ? undefined : describe(response, tokenOf(auth));
    record(classified, response, auth, error);
    const status = response.kind === "response" ? response.status : undefined;
    const result: BeatResult = { ok: classified.kind === "ok" };
    if (status !== undefined) result.status = status;
    if (error !== undefined) result.error = error;
    return { result, classified };
  };

  /** `error` is the answer described (`describe`) when the beat failed. */
  const record = (classified: Classified, response: HttpResult, auth: string | undefined, error?: string) => {
    if (classified.kind === "aborted") return;
    counters.answered(response.kind === "response" ? response.status : undefined);
    const now = clock.now();
    if (classified.kind === "ok") {
      const hadFailures = counters.read.consecutiveFailures > 0;
      const since = counters.read.lastSuccessAt ?? startedAt;
      const unknownSince = counters.read.notFoundSince;
      counters.delivered(now);
      backoffN = 0;
      transportStreak = 0;
      deadAuth = undefined;
      successes += 1;
      logger.debug?.({ event: "heartbeat.ok" }, "heartbeat delivered");
      if (unknownSince !== undefined) {
        logger.info(
          { event: "heartbeat.workspace_known", workspaceId, unknownMs: now - unknownSince },
          "the platform knows this workspace again; heartbeats are back",
        );
      }
      // After 404s the daemon has re-registered already (onWorkspaceUnknown): only the check runs.
      const pastTtl = hadFailures && unknownSince === undefined && now - since > input.ttlMs;
      if (pastTtl) {
        logger.info(
          { event: "heartbeat.outage_recovered", workspaceId, downMs: now - since },
          "heartbeats are back after an outage longer than the TTL; re-register",
        );
        input.emitOutageRecovered({ reason: "outage", downMs: now - since });
      }
      // The platform can lose us in any outage, even one shorter than its TTL (it restarted, say):
      // its view is checked after the first good beat after one, and on every n-th beat besides (at
      // this loop's phase, so loops started together do not check together).
      const afterOutage = hadFailures && !pastTtl;
      if (input.running() && (afterOutage || (successes + input.checkPhase) % input.checkEvery === 0)) {
        input.checkPlatform(afterOutage);
      }
      return;
    }
    counters.failed(error);
    if (classified.kind === "unknown") {
      backoffN += 1;
      notFound(now, error);
      return;
    }
    if (classified.kind === "unauthorized") {
      const streak = counters.unauthorized();
      deadAuth = auth;
      backoffN = 0;
      logger.warn({ event: "heartbeat.unauthorized", workspaceId, streak }, "heartbeat rejected with 401");
      if (streak >= UNAUTHORIZED_ALERT_AT && (streak - UNAUTHORIZED_ALERT_AT) % UNAUTHORIZED_ALERT_EVERY === 0) {
        logger.error(
          { event: "heartbeat.unauthorized_streak", workspaceId, streak },
          `workspace ${workspaceId}: ${streak} consecutive 401s — token revoked or workspace removed; re-provision or re-register`,
        );
        input.emitUnauthorizedStreak({ workspaceId, streak });
      }
      return;
    }
    if (classified.kind === "backoff") {
      backoffN += 1;
      if (classified.transport) {
        transportStreak += 1;
        if (transportStreak % REBUILD_AFTER_TRANSPORT_ERRORS === 0 && http.rebuild()) {
          counters.clientRebuilt();
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
        status: counters.read.lastStatus,
        attempt: counters.read.consecutiveFailures,
        err: counters.read.lastError,
      },
      "heartbeat failed",
    );
  };

  /** A 404: one WARN when it starts and one when it outlasts the TTL (each beat else at debug); the event every time. */
  const notFound = (now: number, error: string | undefined) => {
    const { streak, since, crossed } = counters.notFound(now, input.ttlMs);
    if (streak === 1) {
      logger.warn(
        { event: "heartbeat.workspace_unknown", workspaceId, err: error },
        "the platform does not know this workspace (heartbeat answered 404); re-registering, beats back off",
      );
    } else if (crossed) {
      logger.warn(
        { event: "heartbeat.workspace_lost", workspaceId, unknownMs: now - since, streak, err: error },
        `the platform has not known this workspace for ${Math.round((now - since) / 1000)} s (longer than the TTL) and re-registering has not helped: not ready; beating every ${Math.round(input.lostCapMs / 1000)} s — check WORKSPACE_ID and that the workspace exists on the platform`,
      );
    } else {
      logger.debug?.({ event: "heartbeat.workspace_unknown", workspaceId, streak }, "heartbeat answered 404 again");
    }
    input.emitWorkspaceUnknown({ workspaceId, streak, since, lost: counters.read.workspaceLost });
  };

  return {
    once: beatOnce,
    backoffLevel: () => backoffN,
    restart() {
      startedAt = clock.now();
      pushes = 0;
    },
  };
}
