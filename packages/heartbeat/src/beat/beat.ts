import { wedgeState } from "@molecule/wedge";
import type { HttpResult } from "../http.js";
import { authorizationOf, tokenOf } from "../options.js";
import { parseRetryAfterMs } from "../schedule.js";
import { errorText } from "../types.js";
import { buildHeartbeatBody, type HeartbeatBody, type RuntimeMetadata } from "./body.js";
import { metadataProblem } from "./metadata.js";
import type { BeatOnce, Classified, HeartbeatState } from "./state.js";
import { emit, noteInternalError, safeHeaders } from "./state.js";
import type { BeatResult } from "./types.js";

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
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfterMs(result.headers["retry-after"], nowMs);
    return retryAfterMs === undefined
      ? { kind: "backoff", transport: false }
      : { kind: "backoff", transport: false, retryAfterMs };
  }
  return { kind: "rejected" };
}

/** `Bearer …` and `sk-ant-…` in a platform's answer (an echoed Authorization header, say). */
const SECRET_TEXT = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\b(sk-ant-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]+/g;

/** The answer in one line for logs and `lastError`, with the token it was sent and secret-shaped text masked. */
function describe(result: HttpResult, token?: string): string {
  if (result.kind === "error") return `${result.failure}: ${result.message}`;
  let excerpt = result.text.slice(0, 400);
  if (token && token.length >= 8) excerpt = excerpt.split(token).join("[redacted]");
  excerpt = excerpt
    .replace(SECRET_TEXT, (_m, bearer: string | undefined, key: string | undefined) =>
      bearer ? `${bearer}[redacted]` : `${key ?? ""}…[redacted]`,
    )
    .slice(0, 200)
    .replace(/\s+/g, " ");
  return `HTTP ${result.status}${excerpt ? ` ${excerpt}` : ""}`;
}

/**
 * One beat: the body, the POST, its one 401 retry with a rotated token, and what the answer does to
 * the counters (backoff, 401 streak, outage recovery, the every-n-th platform check). @internal
 */
export function createBeat(state: HeartbeatState, checkPlatform: () => Promise<void>): BeatOnce {
  const { clock, logger, counters, tokens, workspaceId } = state;

  // ---- the body ---------------------------------------------------------------------------
  const metadata = (): RuntimeMetadata | undefined => {
    let problem: string;
    try {
      const value: unknown = state.metadata();
      const invalid = metadataProblem(value);
      if (invalid === undefined) {
        state.lastMetadata = value as RuntimeMetadata;
        state.metadataWarned = false;
        return state.lastMetadata;
      }
      problem = `metadata() returned an invalid runtime_metadata (${invalid})`;
    } catch (error) {
      problem = `metadata() threw: ${errorText(error)}`;
    }
    noteInternalError(state, "metadata", problem);
    if (!state.metadataWarned) {
      state.metadataWarned = true;
      logger.warn(
        { event: "heartbeat.metadata_failed", err: problem },
        `${problem}; sending the last good runtime_metadata`,
      );
    }
    return state.lastMetadata;
  };

  const buildBody = (final: boolean): { body: HeartbeatBody; key: string } => {
    let uptime = Math.floor((clock.now() - state.startedAt) / 1_000);
    if (state.pushes > 0) uptime = Math.max(1, uptime); // never 0 in a later push
    const body = buildHeartbeatBody({
      workspaceId,
      uptimeSeconds: uptime,
      tasks: state.tasks.snapshot(),
      wedge: wedgeState(),
      metadata: metadata(),
      final,
    });
    const { uptime_seconds: _uptime, ...rest } = body;
    return { body, key: JSON.stringify(rest) };
  };

  // ---- one beat (its one 401 retry included) ----------------------------------------------
  const post = (body: HeartbeatBody, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal) => {
    state.pushes += 1;
    return state.http.send({ method: "POST", url: state.beatUrl, headers, body, timeoutMs, signal });
  };

  const beatOnce: BeatOnce = async (kind, force, signal, timeoutMs) => {
    let { body, key } = buildBody(kind === "final");
    let headers = await safeHeaders(state);
    let auth = authorizationOf(headers);
    if (kind === "immediate" && !force) {
      if (key === state.lastSentKey && auth === state.lastSentAuth) {
        counters.skippedBeats += 1;
        return { result: { ok: true, skipped: true } };
      }
      if (state.deadAuth !== undefined && auth === state.deadAuth) {
        // This token just got a 401 and nothing on disk changed: the next tick re-checks.
        counters.skippedBeats += 1;
        return {
          result: { ok: false, skipped: true, error: "token rejected; waiting for a new token or the next tick" },
        };
      }
    }
    state.lastSentKey = key;
    state.lastSentAuth = auth;
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
        const fresh = await safeHeaders(state);
        const freshAuth = authorizationOf(fresh);
        if (freshAuth !== undefined && freshAuth !== auth) {
          logger.info(
            { event: "heartbeat.retry_rotated", workspaceId },
            "401 with a token that has since rotated; retrying once",
          );
          headers = fresh;
          auth = freshAuth;
          ({ body, key } = buildBody(kind === "final"));
          state.lastSentKey = key;
          state.lastSentAuth = auth;
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
    counters.lastStatus = response.kind === "response" ? response.status : undefined;
    const now = clock.now();
    if (classified.kind === "ok") {
      const hadFailures = counters.consecutiveFailures > 0;
      const since = counters.lastSuccessAt ?? state.startedAt;
      counters.beatsOk += 1;
      counters.consecutiveFailures = 0;
      counters.unauthorizedStreak = 0;
      counters.lastSuccessAt = now;
      state.backoffN = 0;
      state.transportStreak = 0;
      state.deadAuth = undefined;
      state.successes += 1;
      logger.debug?.({ event: "heartbeat.ok" }, "heartbeat delivered");
      const pastTtl = hadFailures && now - since > state.ttlMs;
      if (pastTtl) {
        logger.info(
          { event: "heartbeat.outage_recovered", workspaceId, downMs: now - since },
          "heartbeats are back after an outage longer than the TTL; re-register",
        );
        emit(state, state.outageListeners, { reason: "outage", downMs: now - since }, "onOutageRecovered");
      }
      // The platform can lose us in any outage, even one shorter than its TTL (it restarted, say):
      // its view is checked on the first good beat after one, and on every n-th beat besides.
      const afterOutage = hadFailures && !pastTtl;
      if (state.started && !state.stopping && (afterOutage || state.successes % state.checkEvery === 0)) {
        void checkPlatform();
      }
      return;
    }
    counters.beatsFailed += 1;
    counters.consecutiveFailures += 1;
    counters.lastError = error;
    if (classified.kind === "unauthorized") {
      counters.unauthorizedStreak += 1;
      state.deadAuth = auth;
      state.backoffN = 0;
      const streak = counters.unauthorizedStreak;
      logger.warn({ event: "heartbeat.unauthorized", workspaceId, streak }, "heartbeat rejected with 401");
      if (streak >= UNAUTHORIZED_ALERT_AT && (streak - UNAUTHORIZED_ALERT_AT) % UNAUTHORIZED_ALERT_EVERY === 0) {
        logger.error(
          { event: "heartbeat.unauthorized_streak", workspaceId, streak },
          `workspace ${workspaceId}: ${streak} consecutive 401s — token revoked or workspace removed; re-provision or re-register`,
        );
        emit(state, state.streakListeners, { workspaceId, streak }, "onUnauthorizedStreak");
      }
      return;
    }
    if (classified.kind === "backoff") {
      state.backoffN += 1;
      if (classified.transport) {
        state.transportStreak += 1;
        if (state.transportStreak % REBUILD_AFTER_TRANSPORT_ERRORS === 0 && state.http.rebuild()) {
          counters.clientRebuilds += 1;
          logger.info(
            { event: "heartbeat.client_rebuilt", transportErrors: state.transportStreak },
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

  return beatOnce;
}
