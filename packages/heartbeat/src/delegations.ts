import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import type { Dispatcher } from "undici";
import * as z from "zod";
import { HeartbeatError } from "./errors.js";
import { createHttpClient, type HttpRequest, type HttpResult } from "./http.js";
import { authorizationOf, positive, tokenOf, validateBase } from "./options.js";
import {
  type Clock,
  errorText,
  type HeartbeatLogger,
  oneLine,
  type PlatformTokens,
  realClock,
  silentLogger,
} from "./types.js";

export interface DelegationPollerOptions {
  platformUrl: string;
  workspaceId: string;
  /** The platform token store (`@molecule/auth`'s `createTokenStore`). */
  tokens: PlatformTokens;
  /** Poll period, ms. Default 30 000. */
  intervalMs?: number;
  /** JSON-lines file results are appended to. Default `<stateDir>/delegation_results.jsonl`. */
  resultsFile?: string;
  /** Directory (created 0700) for the delivered-ids file. */
  stateDir: string;
  /** At most one wake-up self-message per cooldown, ms. Default 60 000. */
  cooldownMs?: number;
  logger?: HeartbeatLogger;
  clock?: Clock;
  dispatcher?: Dispatcher;
  /** Per-request timeout, ms (the wake-up is abandoned, not retried, after it). Default 10 000. */
  requestTimeoutMs?: number;
  /** How long a definitive parent lookup is cached, ms. Default 600 000. */
  parentCacheTtlMs?: number;
}

/** One delivered result, as a line of the results file. */
export interface DelegationResult {
  delegation_id: string;
  status: "completed" | "failed";
  summary: string;
  source_id: string;
  target_id?: string;
  row_id?: string;
  created_at?: string;
  error?: string;
  /** The platform's preview of the answer (≤ 300 chars). Untrusted text: never put it in a user-role message. */
  response_preview?: string;
  /** When this workspace received it (ISO 8601). */
  received_at: string;
}

export interface DelegationPollerStats {
  running: boolean;
  polls: number;
  pollFailures: number;
  /** Results appended to the results file. */
  delivered: number;
  /** Delegation ids refused because their `source_id` is another workspace (counted once per id). */
  rejected: number;
  wakeUpsSent: number;
  /** Wake-ups held back by the cooldown (sent when it ends). */
  wakeUpsDeferred: number;
  wakeUpsFailed: number;
  notifyFailures: number;
  /** Parent lookups that went to the platform (cache misses). */
  parentLookups: number;
  lastError: string | undefined;
  inFlight: number;
}

export interface PollResult {
  ok: boolean;
  /** New results appended by this poll. */
  delivered: number;
  error?: string;
}

export interface DelegationPoller {
  /** Polls at once, then every `intervalMs`. Idempotent. */
  start(): void;
  /** Stops the timers and resolves when nothing is in flight. */
  stop(): Promise<void>;
  /** A poll now (joins one already running). */
  pollNow(): Promise<PollResult>;
  stats(): DelegationPollerStats;
}

const SEEN_LIMIT = 1_000;
const SEEN_FILE = "delegations_seen.json";
const SUMMARY_CHARS = 200;

const rowSchema = z.object({
  id: z.string().nullish(),
  source_id: z.string().nullish(),
  target_id: z.string().nullish(),
  summary: z.string().nullish(),
  status: z.string().nullish(),
  created_at: z.string().nullish(),
  delegation_id: z.string().nullish(),
  error: z.string().nullish(),
  response_preview: z.string().nullish(),
});
type Row = z.infer<typeof rowSchema>;

const resultLine = z.object({
  delegation_id: z.string().min(1),
  status: z.enum(["completed", "failed"]),
  summary: z.string(),
  source_id: z.string(),
  target_id: z.string().optional(),
  row_id: z.string().optional(),
  created_at: z.string().optional(),
  error: z.string().optional(),
  response_preview: z.string().optional(),
  received_at: z.string(),
});

const seenFile = z.array(z.string());
const workspaceView = z.object({ name: z.string().nullish(), parent_id: z.string().nullish() });

function clean(text: string, max = SUMMARY_CHARS): string {
  return oneLine(text, max);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

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
  const wsPath = `${base}/workspaces/${encodeURIComponent(workspaceId)}`;

  let started = false;
  let stopping: Promise<void> | undefined;
  let pollTimer: unknown;
  let wakeTimer: unknown;
  let polling: Promise<PollResult> | undefined;
  const side = new Set<Promise<void>>();
  const aborter = new AbortController();

  let seen: Set<string> | undefined;
  const rejectedIds = new Set<string>();
  const pendingWake = new Map<string, { status: string; summary: string }>();
  let lastWakeAt: number | undefined;
  let parentCache: { expiresAt: number; name: string | undefined } | undefined;

  const counters: Omit<DelegationPollerStats, "running" | "inFlight"> = {
    polls: 0,
    pollFailures: 0,
    delivered: 0,
    rejected: 0,
    wakeUpsSent: 0,
    wakeUpsDeferred: 0,
    wakeUpsFailed: 0,
    notifyFailures: 0,
    parentLookups: 0,
    lastError: undefined,
  };

  const track = (work: Promise<void>) => {
    side.add(work);
    void work.finally(() => side.delete(work));
  };

  const send = (req: Omit<HttpRequest, "timeoutMs" | "signal">): Promise<HttpResult> =>
    http.send({ ...req, timeoutMs: requestTimeoutMs, signal: aborter.signal });

  /** An authenticated request with the one 401 retry of CONTRACT.md. */
  const authed = async (
    req: Omit<HttpRequest, "timeoutMs" | "signal" | "headers">,
    extra: Record<string, string> = {},
  ) => {
    const headers = { ...(await tokens.headers()), ...extra };
    const auth = authorizationOf(headers);
    const res = await send({ ...req, headers });
    if (res.kind !== "response" || res.status !== 401) return res;
    const { changed } = await tokens.refreshFromDisk(tokenOf(auth)).catch(() => ({ changed: false }));
    if (!changed) return res;
    const fresh = { ...(await tokens.headers()), ...extra };
    if (authorizationOf(fresh) === auth) return res;
    return send({ ...req, headers: fresh });
  };

  // ---- delivered ids ------------------------------------------------------------------------
  const loadSeen = async (): Promise<Set<string>> => {
    if (seen) return seen;
    const set = new Set<string>();
    try {
      const parsed = seenFile.safeParse(parseJson(await readFile(seenPath, "utf8")));
      if (parsed.success) for (const id of parsed.data.slice(-SEEN_LIMIT)) set.add(id);
      else {
        logger.warn(
          { event: "delegation.state_corrupt", file: seenPath },
          "the delivered-ids file is not a JSON list of ids; starting empty (results may be delivered again)",
        );
      }
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") {
        logger.warn(
          { event: "delegation.state_unreadable", file: seenPath, err: errorText(error) },
          "cannot read the delivered-ids file",
        );
      }
    }
    seen = set;
    return set;
  };

  const markSeen = async (set: Set<string>, ids: string[]) => {
    for (const id of ids) {
      set.delete(id);
      set.add(id);
    }
    while (set.size > SEEN_LIMIT) {
      const oldest = set.values().next().value;
      if (oldest === undefined) break;
      set.delete(oldest);
    }
    try {
      // Creates stateDir (0700) when missing; old list or new, never a partial one, no temp file left behind.
      await writeFileAtomic(seenPath, JSON.stringify([...set]), {
        mode: 0o600,
        dirMode: 0o700,
        onDirSyncError: (error) =>
          logger.debug?.(
            { event: "delegation.state_dir_fsync_failed", file: seenPath, err: errorText(error) },
            "saved the delivered ids but could not fsync the state directory",
          ),
      });
    } catch (error) {
      logger.error(
        { event: "delegation.state_write_failed", file: seenPath, err: errorText(error) },
        "cannot persist the delivered ids; a restart may deliver these results again",
      );
    }
  };

  // ---- wake-up ------------------------------------------------------------------------------
  const wakeText = (entries: Array<[string, { status: string; summary: string }]>): string => {
    const lines = entries.map(([id, e]) => `- ${id}: ${e.status}${e.summary ? ` — ${e.summary}` : ""}`);
    return [
      `${entries.length} delegation result${entries.length === 1 ? "" : "s"} arrived:`,
      ...lines,
      `The full results are in ${resultsFile} (read them with readDelegationResults).`,
    ].join("\n");
  };

  const sendWake = () => {
    if (pendingWake.size === 0 || stopping) return;
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
    if (pendingWake.size === 0 || stopping) return;
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

  // ---- parent lookup + notify ---------------------------------------------------------------
  const lookup = async (url: string): Promise<{ definitive: boolean; view?: z.infer<typeof workspaceView> }> => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(await tokens.headers().catch(() => ({})))) {
      if (key.toLowerCase() !== "authorization") headers[key] = value;
    }
    const res = await send({ method: "GET", url, headers });
    if (res.kind !== "response") return { definitive: false };
    if (res.status === 404) return { definitive: true };
    if (res.status !== 200) return { definitive: false };
    const parsed = workspaceView.safeParse(parseJson(res.text));
    return parsed.success ? { definitive: true, view: parsed.data } : { definitive: false };
  };

  const parentName = async (): Promise<string | undefined> => {
    if (parentCache && parentCache.expiresAt > clock.now()) return parentCache.name;
    counters.parentLookups += 1;
    const own = await lookup(wsPath);
    if (!own.definitive) return undefined; // a 5xx is asked again next time, not cached as "no parent"
    const parentId = own.view?.parent_id;
    let name: string | undefined;
    if (parentId) {
      const parent = await lookup(`${base}/workspaces/${encodeURIComponent(parentId)}`);
      if (!parent.definitive) return undefined;
      name = parent.view?.name ?? undefined;
    }
    parentCache = { expiresAt: clock.now() + parentTtlMs, name };
    return name;
  };

  const notifyAll = (results: DelegationResult[]) => {
    track(
      (async () => {
        const parent = await parentName();
        for (const r of results) {
          if (stopping) return;
          const summary = clean(r.summary);
          const message = `Delegation ${r.status}${summary ? `: ${summary}` : ""} (id ${r.delegation_id}${parent ? `, parent ${clean(parent, 80)}` : ""})`;
          const res = await authed({ method: "POST", url: `${wsPath}/notify`, body: { message } });
          if (res.kind === "response" && res.status >= 200 && res.status < 300) continue;
          if (res.kind === "error" && res.failure === "aborted") return;
          counters.notifyFailures += 1;
          logger.warn(
            {
              event: "delegation.notify_failed",
              status: res.kind === "response" ? res.status : undefined,
              delegationId: r.delegation_id,
            },
            "notify for a delegation result failed",
          );
        }
      })().catch((error) => {
        logger.error({ event: "delegation.bug", err: errorText(error) }, "unexpected error notifying");
      }),
    );
  };

  // ---- one poll -----------------------------------------------------------------------------
  const fail = (message: string): PollResult => {
    counters.pollFailures += 1;
    counters.lastError = message;
    logger.warn({ event: "delegation.poll_failed", err: message }, "polling delegations failed");
    return { ok: false, delivered: 0, error: message };
  };

  const pollOnce = async (): Promise<PollResult> => {
    counters.polls += 1;
    const set = await loadSeen();
    const res = await authed({ method: "GET", url: `${wsPath}/delegations` });
    if (res.kind === "error") return fail(`${res.failure}: ${res.message}`);
    if (res.status !== 200) return fail(`HTTP ${res.status}`);
    const list = z.array(z.unknown()).safeParse(parseJson(res.text));
    if (!list.success) return fail("the delegations answer is not a JSON array");

    const fresh: DelegationResult[] = [];
    const batch = new Set<string>();
    let malformed = 0;
    for (const raw of list.data) {
      const parsed = rowSchema.safeParse(raw);
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
      const result: DelegationResult = {
        delegation_id: id,
        status: row.status,
        summary: row.summary ?? "",
        source_id: row.source_id,
        received_at: new Date(clock.now()).toISOString(),
      };
      if (row.target_id) result.target_id = row.target_id;
      if (row.id) result.row_id = row.id;
      if (row.created_at) result.created_at = row.created_at;
      if (row.error) result.error = row.error;
      if (row.response_preview) result.response_preview = row.response_preview;
      fresh.push(result);
    }
    if (malformed > 0)
      logger.warn({ event: "delegation.malformed_rows", count: malformed }, "skipped malformed delegation rows");
    if (fresh.length === 0) return { ok: true, delivered: 0 };

    // Write first, then mark: a crash in between delivers again (at-least-once), never loses.
    // Oldest first, so the file reads in the order the work finished (the platform sends newest first).
    fresh.reverse();
    try {
      await mkdir(dirname(resultsFile), { recursive: true, mode: 0o700 });
      const handle = await open(resultsFile, "a", 0o600);
      try {
        await handle.writeFile(fresh.map((r) => `${JSON.stringify(r)}\n`).join(""));
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      const message = `cannot append to ${resultsFile}: ${errorText(error)}`;
      counters.lastError = message;
      logger.error(
        { event: "delegation.append_failed", file: resultsFile, err: errorText(error) },
        "could not write delegation results; they are retried on the next poll",
      );
      return { ok: false, delivered: 0, error: message };
    }
    await markSeen(
      set,
      fresh.map((r) => r.delegation_id),
    );
    counters.delivered += fresh.length;
    logger.info({ event: "delegation.delivered", count: fresh.length }, "delegation results delivered");
    notifyAll(fresh);
    for (const r of fresh) pendingWake.set(r.delegation_id, { status: r.status, summary: clean(r.summary) });
    scheduleWake();
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
      mkdir(stateDir, { recursive: true, mode: 0o700 }).catch(() => {});
      onTimer();
    },
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (pollTimer !== undefined) clock.clearTimeout(pollTimer);
        if (wakeTimer !== undefined) {
          clock.clearTimeout(wakeTimer);
          logger.info(
            { event: "delegation.wake_dropped_on_stop", ids: pendingWake.size },
            "a deferred wake-up was not sent",
          );
        }
        pollTimer = wakeTimer = undefined;
        aborter.abort();
        if (polling) await polling;
        await Promise.all([...side]);
        await http.close();
      })();
      return stopping;
    },
    pollNow,
    stats: () => ({
      running: started && !stopping,
      ...counters,
      inFlight: (polling ? 1 : 0) + side.size,
    }),
  };
}

/**
 * Consumes the results file atomically (rename, then read, then delete) and returns its results,
 * oldest first, without duplicate ids. Corrupt lines are skipped with a warning. A missing file is [].
 */
export async function readDelegationResults(
  file: string,
  options: { logger?: HeartbeatLogger } = {},
): Promise<DelegationResult[]> {
  const logger = options.logger ?? silentLogger;
  const dir = dirname(file);
  const prefix = `${basename(file)}.consuming-`;
  // Leftovers of a reader that died between rename and delete come first (they are older).
  let leftovers: string[] = [];
  try {
    leftovers = (await readdir(dir)).filter((name) => name.startsWith(prefix)).sort();
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
  const taken = join(dir, `${prefix}${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`);
  const parts = leftovers.map((name) => join(dir, name));
  try {
    await rename(file, taken);
    parts.push(taken);
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  const out: DelegationResult[] = [];
  const ids = new Set<string>();
  for (const part of parts) {
    const text = await readFile(part, "utf8");
    let lineNo = 0;
    for (const line of text.split("\n")) {
      lineNo += 1;
      if (line.trim() === "") continue;
      const parsed = resultLine.safeParse(parseJson(line));
      if (!parsed.success) {
        logger.warn(
          { event: "delegation.corrupt_line", file, line: lineNo },
          "skipped a corrupt line in the results file",
        );
        continue;
      }
      if (ids.has(parsed.data.delegation_id)) continue;
      ids.add(parsed.data.delegation_id);
      const { target_id, row_id, created_at, error, response_preview, ...required } = parsed.data;
      const result: DelegationResult = { ...required };
      if (target_id !== undefined) result.target_id = target_id;
      if (row_id !== undefined) result.row_id = row_id;
      if (created_at !== undefined) result.created_at = created_at;
      if (error !== undefined) result.error = error;
      if (response_preview !== undefined) result.response_preview = response_preview;
      out.push(result);
    }
    await unlink(part);
  }
  return out;
}
