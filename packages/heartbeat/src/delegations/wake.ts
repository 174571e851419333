import { randomUUID } from "node:crypto";
import { type Clock, errorText, type HeartbeatLogger } from "../types.js";
import { type Authed, clean, type Track } from "./requests.js";
import type { DelegationPollerStats, DelegationResult } from "./types.js";

/** The wake-up's own counters. @internal */
export type WakeCounts = Pick<DelegationPollerStats, "wakeUpsSent" | "wakeUpsDeferred" | "wakeUpsFailed">;

/** What the wake-up uses. @internal */
export interface WakeUpInput {
  workspaceId: string;
  /** `<base>/workspaces/<id>` */
  wsPath: string;
  resultsFile: string;
  cooldownMs: number;
  clock: Clock;
  logger: HeartbeatLogger;
  authed: Authed;
  track: Track;
  stopping: () => boolean;
}

/** @internal */
export interface WakeUp {
  /** Queues a wake-up naming these results: sent at once, or when the cooldown ends. */
  add(results: readonly DelegationResult[]): void;
  /** Drops a deferred wake-up (logged); for `stop()`. */
  cancel(): void;
  /** Its counters, read-only. */
  readonly counts: Readonly<WakeCounts>;
}

/**
 * The wake-up self-message: at most one per `cooldownMs`, naming the results that arrived (never
 * their untrusted preview); a failed one (5xx, 429, transport) is sent again after the cooldown. @internal
 */
export function createWakeUp(input: WakeUpInput): WakeUp {
  const { clock, logger, workspaceId, wsPath, resultsFile, cooldownMs, authed, track, stopping } = input;
  const counters: WakeCounts = { wakeUpsSent: 0, wakeUpsDeferred: 0, wakeUpsFailed: 0 };
  const pendingWake = new Map<string, { status: string; summary: string }>();
  let lastWakeAt: number | undefined;
  let wakeTimer: unknown;

  const wakeText = (entries: Array<[string, { status: string; summary: string }]>): string => {
    const lines = entries.map(([id, e]) => `- ${id}: ${e.status}${e.summary ? ` — ${e.summary}` : ""}`);
    return [
      `${entries.length} delegation result${entries.length === 1 ? "" : "s"} arrived:`,
      ...lines,
      `The full results are in ${resultsFile} (read them with readDelegationResults).`,
    ].join("\n");
  };

  const sendWake = () => {
    if (pendingWake.size === 0 || stopping()) return;
    const entries = [...pendingWake.entries()];
    pendingWake.clear();
    lastWakeAt = clock.now();
    const messageId = randomUUID();
    const body = {
      jsonrpc: "2.0",
      id: randomUUID(),
      method: "message/send",
      params: { message: { role: "user", messageId, parts: [{ kind: "text", text: wakeText(entries) }] } },
    };
    track(
      (async () => {
        const res = await authed({ method: "POST", url: `${wsPath}/a2a`, body }, { "X-Workspace-ID": workspaceId });
        if (res.kind === "response" && res.status >= 200 && res.status < 300) {
          counters.wakeUpsSent += 1;
          logger.info({ event: "delegation.wake_sent", status: res.status, ids: entries.length }, "woke the agent");
          return;
        }
        if (res.kind === "error" && res.failure === "timeout") {
          // The platform holds the request while the agent works on it: it was delivered.
          counters.wakeUpsSent += 1;
          logger.info({ event: "delegation.wake_sent", status: "held" }, "wake-up accepted; not waiting for the turn");
          return;
        }
        if (res.kind === "error" && res.failure === "aborted") return;
        counters.wakeUpsFailed += 1;
        const status = res.kind === "response" ? res.status : undefined;
        const retry = status === undefined || status === 429 || status >= 500;
        logger.warn(
          { event: "delegation.wake_failed", status, err: res.kind === "error" ? res.message : undefined, retry },
          retry
            ? "the wake-up self-message failed; it is sent again after the cooldown"
            : "the wake-up self-message was refused",
        );
        if (retry) {
          for (const [id, e] of entries) if (!pendingWake.has(id)) pendingWake.set(id, e);
          scheduleWake();
        }
      })().catch((error) => {
        logger.error({ event: "delegation.bug", err: errorText(error) }, "unexpected error sending the wake-up");
      }),
    );
  };

  function scheduleWake() {
    if (pendingWake.size === 0 || stopping()) return;
    const now = clock.now();
    if (lastWakeAt === undefined || now - lastWakeAt >= cooldownMs) {
      sendWake();
      return;
    }
    if (wakeTimer !== undefined) return;
    counters.wakeUpsDeferred += 1;
    wakeTimer = clock.setTimeout(
      () => {
        wakeTimer = undefined;
        sendWake();
      },
      lastWakeAt + cooldownMs - now,
    );
  }

  return {
    counts: counters,
    add(results) {
      for (const r of results) pendingWake.set(r.delegation_id, { status: r.status, summary: clean(r.summary) });
      scheduleWake();
    },
    cancel() {
      if (wakeTimer !== undefined) {
        clock.clearTimeout(wakeTimer);
        logger.info(
          { event: "delegation.wake_dropped_on_stop", ids: pendingWake.size },
          "a deferred wake-up was not sent",
        );
      }
      wakeTimer = undefined;
    },
  };
}
