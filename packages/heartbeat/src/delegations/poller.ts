import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type * as z from "zod";
import { HeartbeatError } from "../errors.js";
import { holdOpen } from "../hold-open.js";
import { createHttpClient } from "../http.js";
import { lazySchema } from "../lazy.js";
import { positive, validateBase } from "../options.js";
import { errorText, parseJson, realClock, silentLogger } from "../types.js";
import { createDelegationLedger } from "./ledger.js";
import { createNotifier } from "./notify.js";
import { createRequests, SEEN_LIMIT } from "./requests.js";
import {
  type DelegationPoller,
  type DelegationPollerOptions,
  type DelegationResult,
  delegationResult,
  type PollResult,
} from "./types.js";
import { createWakeUp } from "./wake.js";

const SEEN_FILE = "delegations_seen.json";

const schemas = lazySchema((z) => ({
  list: z.array(z.unknown()),
  row: z.object({
    id: z.string().nullish(),
    source_id: z.string().nullish(),
    target_id: z.string().nullish(),
    summary: z.string().nullish(),
    status: z.string().nullish(),
    created_at: z.string().nullish(),
    delegation_id: z.string().nullish(),
    error: z.string().nullish(),
    response_preview: z.string().nullish(),
  }),
}));
type Row = z.infer<Awaited<ReturnType<typeof schemas>>["row"]>;

/** Polls `GET /workspaces/:id/delegations`, delivers each finished delegation once, wakes the agent. */
export function createDelegationPoller(options: DelegationPollerOptions): DelegationPoller {
  const code = "E_DELEGATION_BAD_OPTION";
  const { base, id: workspaceId } = validateBase(options.platformUrl, options.workspaceId, code);
  if (typeof options.stateDir !== "string" || options.stateDir.trim() === "") {
    throw new HeartbeatError({
      code,
      message: "stateDir is empty; pass the runtime's state directory (MOLECULE_STATE_DIR)",
    });
  }
  const intervalMs = positive(options.intervalMs, 30_000, "intervalMs", code);
  const cooldownMs = positive(options.cooldownMs, 60_000, "cooldownMs", code);
  const requestTimeoutMs = positive(options.requestTimeoutMs, 10_000, "requestTimeoutMs", code);
  const parentTtlMs = positive(options.parentCacheTtlMs, 600_000, "parentCacheTtlMs", code);
  const stateDir = options.stateDir;
  const resultsFile = options.resultsFile ?? join(stateDir, "delegation_results.jsonl");
  const seenPath = join(stateDir, SEEN_FILE);
  const clock = options.clock ?? realClock;
  const logger = options.logger ?? silentLogger;
  const { tokens } = options;
  const http = createHttpClient({ clock, dispatcher: options.dispatcher });
  const aborter = new AbortController();
  const side = new Set<Promise<void>>();

  // The lifecycle, written here only.
  let stopping: Promise<void> | undefined;
  const isStopping = () => stopping !== undefined;
  const track = (work: Promise<void>) => {
    side.add(work);
    void work.finally(() => side.delete(work));
  };
  const { send, authed } = createRequests({ http, tokens, requestTimeoutMs, signal: aborter.signal });
  const wsPath = `${base}/workspaces/${encodeURIComponent(workspaceId)}`;
  /** The poll's own counters; the wake-up and the notifier keep theirs. */
  const counters = { polls: 0, pollFailures: 0, delivered: 0, rejected: 0, lastError: undefined as string | undefined };
  const ledger = createDelegationLedger({ seenPath, resultsFile, logger });
  const wake = createWakeUp({
    workspaceId,
    wsPath,
    resultsFile,
    cooldownMs,
    clock,
    logger,
    authed,
    track,
    stopping: isStopping,
  });
  const notifier = createNotifier({
    base,
    wsPath,
    parentTtlMs,
    clock,
    logger,
    tokens,
    send,
    authed,
    track,
    stopping: isStopping,
  });
  let started = false;
  const hold = holdOpen(options.unref === true);
  let pollTimer: unknown;
  let polling: Promise<PollResult> | undefined;
  const rejectedIds = new Set<string>();

  // ---- one poll -----------------------------------------------------------------------------
  const fail = (message: string): PollResult => {
    counters.pollFailures += 1;
    counters.lastError = message;
    logger.warn({ event: "delegation.poll_failed", err: message }, "polling delegations failed");
    return { ok: false, delivered: 0, error: message };
  };

  const pollOnce = async (): Promise<PollResult> => {
    counters.polls += 1;
    const set = await ledger.loadSeen();
    const res = await authed({ method: "GET", url: `${wsPath}/delegations` });
    if (res.kind === "error" && res.failure === "aborted" && stopping) {
      // stop() ended it: not a failure.
      logger.debug?.({ event: "delegation.poll_aborted" }, "poll aborted by stop()");
      return { ok: false, delivered: 0, error: "stopped" };
    }
    if (res.kind === "error") return fail(`${res.failure}: ${res.message}`);
    if (res.status !== 200) return fail(`HTTP ${res.status}`);
    const schema = await schemas();
    const list = schema.list.safeParse(parseJson(res.text));
    if (!list.success) return fail("the delegations answer is not a JSON array");

    const fresh: DelegationResult[] = [];
    const batch = new Set<string>();
    let malformed = 0;
    for (const raw of list.data) {
      const parsed = schema.row.safeParse(raw);
      if (!parsed.success) {
        malformed += 1;
        continue;
      }
      const row: Row = parsed.data;
      const id = row.delegation_id;
      if (!id || (row.status !== "completed" && row.status !== "failed")) continue;
      if (row.source_id !== workspaceId) {
        if (!rejectedIds.has(id)) {
          rejectedIds.add(id);
          if (rejectedIds.size > SEEN_LIMIT) {
            const oldest = rejectedIds.values().next().value;
            if (oldest !== undefined) rejectedIds.delete(oldest);
          }
          counters.rejected += 1;
          logger.warn(
            { event: "delegation.rejected", delegationId: id, sourceId: row.source_id ?? null },
            "refused a delegation row from another workspace (possible injection)",
          );
        }
        continue;
      }
      if (set.has(id) || batch.has(id)) continue;
      batch.add(id);
      fresh.push(
        delegationResult(
          {
            delegation_id: id,
            status: row.status,
            summary: row.summary ?? "",
            source_id: row.source_id,
            received_at: new Date(clock.now()).toISOString(),
          },
          {
            target_id: row.target_id,
            row_id: row.id,
            created_at: row.created_at,
            error: row.error,
            response_preview: row.response_preview,
          },
        ),
      );
    }
    if (malformed > 0)
      logger.warn({ event: "delegation.malformed_rows", count: malformed }, "skipped malformed delegation rows");
    if (fresh.length === 0) return { ok: true, delivered: 0 };

    // Write first, then mark: a crash in between delivers again (at-least-once), never loses.
    // Oldest first, so the file reads in the order the work finished (the platform sends newest first).
    fresh.reverse();
    try {
      await ledger.append(fresh);
    } catch (error) {
      const message = `cannot append to ${resultsFile}: ${errorText(error)}`;
      counters.lastError = message;
      logger.error(
        { event: "delegation.append_failed", file: resultsFile, err: errorText(error) },
        "could not write delegation results; they are retried on the next poll",
      );
      return { ok: false, delivered: 0, error: message };
    }
    await ledger.markSeen(
      set,
      fresh.map((r) => r.delegation_id),
    );
    counters.delivered += fresh.length;
    logger.info({ event: "delegation.delivered", count: fresh.length }, "delegation results delivered");
    notifier.notify(fresh);
    wake.add(fresh);
    return { ok: true, delivered: fresh.length };
  };

  const pollNow = (): Promise<PollResult> => {
    if (stopping) return Promise.resolve({ ok: false, delivered: 0, error: "stopped" });
    if (polling) return polling;
    const run = pollOnce().catch((error) => fail(`unexpected: ${errorText(error)}`));
    polling = run;
    void run.finally(() => {
      if (polling === run) polling = undefined;
    });
    return run;
  };

  const onTimer = () => {
    pollTimer = undefined;
    void pollNow().finally(() => {
      if (started && !stopping) pollTimer = clock.setTimeout(onTimer, intervalMs);
    });
  };

  return {
    start() {
      if (started || stopping) return;
      started = true;
      hold.acquire();
      mkdir(stateDir, { recursive: true, mode: 0o700 }).catch(() => {});
      onTimer();
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (pollTimer !== undefined) clock.clearTimeout(pollTimer);
        wake.cancel();
        pollTimer = undefined;
        aborter.abort();
        if (polling) await polling;
        await Promise.all([...side]);
        await http.close();
        hold.release();
      })();
      return stopping;
    },
    pollNow,
    stats: () => ({
      running: started && !stopping,
      polls: counters.polls,
      pollFailures: counters.pollFailures,
      delivered: counters.delivered,
      rejected: counters.rejected,
      ...wake.counts,
      ...notifier.counts,
      lastError: counters.lastError,
      inFlight: (polling ? 1 : 0) + side.size,
    }),
  };
}
