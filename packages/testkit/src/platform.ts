import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { isIP } from "node:net";
import { writeFileAtomicSync } from "@molecule/internal";
import * as z from "zod";
import { type Clock, realClock } from "./clock.js";
import { TestkitError } from "./errors.js";
import { parseJson, plainHeaders, readBody, realSleep, sendJson } from "./http-util.js";

export type WorkspaceStatus = "provisioning" | "online" | "degraded" | "offline";

/** The routes of CONTRACT.md, by short name (used by `failNext`, `latency` and the request log). */
export type PlatformRoute = "register" | "heartbeat" | "delegations" | "a2a" | "notify" | "workspace";

export type PlatformEventType =
  | "WORKSPACE_ONLINE"
  | "WORKSPACE_DEGRADED"
  | "WORKSPACE_OFFLINE"
  | "TASK_UPDATED"
  | "WORKSPACE_HEARTBEAT";

export interface PlatformEvent {
  readonly type: PlatformEventType;
  readonly workspaceId: string;
  /** clock.now() when it happened (epoch ms) */
  readonly at: number;
  /** the same instant as RFC 3339 */
  readonly timestamp: string;
  /** status events: `{ from, to, reason }`; TASK_UPDATED: `{ active_tasks, current_task }`; WORKSPACE_HEARTBEAT: the beat's scalar fields */
  readonly data: Readonly<Record<string, unknown>>;
}

/** The platform's view of one workspace (a live object: it changes as requests arrive). */
export interface PlatformWorkspace {
  readonly id: string;
  readonly name: string;
  readonly status: WorkspaceStatus;
  readonly parentId: string | null;
  /** the registered A2A url, null until registered */
  readonly url: string | null;
  readonly agentCard: Readonly<Record<string, unknown>> | null;
  /** clock ms of the last successful register, null if never */
  readonly registeredAt: number | null;
  /** clock ms at which the liveness record expires; null when there is none (never registered, expired, forgotten) */
  readonly liveUntil: number | null;
  readonly lastHeartbeatAt: number | null;
  readonly errorRate: number;
  readonly sampleError: string;
  readonly activeTasks: number;
  readonly currentTask: string;
  readonly uptimeSeconds: number;
  readonly runtimeState: string;
  /** the last beat's runtime_metadata; null when the last beat had none ("clear my overrides") */
  readonly runtimeMetadata: Readonly<Record<string, unknown>> | null;
}

/** How a request's token was judged. `bootstrap`: no live token existed, so none was required. */
export type AuthVerdict = "ok" | "missing" | "invalid" | "bootstrap" | "not-checked";

/** One recorded request (every request the platform saw, including failed and injected ones). */
export interface PlatformRequest {
  readonly route: PlatformRoute | "unknown";
  readonly method: string;
  readonly path: string;
  /** clock.now() at arrival */
  readonly at: number;
  /** lower-cased headers, unmasked (tokens in a test platform are test tokens) */
  readonly headers: Readonly<Record<string, string>>;
  /** the parsed JSON body, or null when there was none or it was not JSON */
  readonly body: unknown;
  /** the token after `Bearer `, or null */
  readonly token: string | null;
  auth: AuthVerdict;
  /** the status answered; 0 when the connection was reset or the request hung */
  status: number;
  /** which injected failure (if any) answered it */
  injected: "status" | "hang" | "reset" | "garbage" | null;
}

/** One heartbeat as it arrived. */
export interface RecordedBeat extends PlatformRequest {
  readonly route: "heartbeat";
  readonly workspaceId: string;
  /** the raw JSON object sent */
  readonly body: Readonly<Record<string, unknown>>;
}

/** One register call as it arrived. */
export interface RecordedRegister extends PlatformRequest {
  readonly route: "register";
  readonly workspaceId: string;
  /** the auth_token issued by this call, if any */
  issuedToken: string | null;
}

/** One A2A or notify call as it arrived. */
export interface RecordedCall extends PlatformRequest {
  readonly workspaceId: string;
}

/** A row of GET /workspaces/:id/delegations (CONTRACT.md). `type` defaults to "delegation". */
export interface DelegationRow {
  id: string;
  type?: string;
  source_id: string;
  target_id: string;
  summary: string;
  status: "pending" | "dispatched" | "queued" | "completed" | "failed" | (string & {});
  created_at: string;
  delegation_id?: string;
  error?: string;
  response_preview?: string;
}

/** An injected failure: exactly one of status / hang / reset / garbage. `times` defaults to 1. */
export type FailureSpec = (
  | { status: number; body?: unknown; retryAfterSeconds?: number }
  | { hang: true }
  | { reset: true }
  | { garbage: true }
) & { times?: number };

/** What POST /workspaces/:id/a2a answers (default "reply"). */
export type A2aMode = "reply" | "queued" | "busy";

export interface SeedOptions {
  /** default `ws-<first 8 chars of id>` */
  name?: string;
  /** default "provisioning" */
  status?: WorkspaceStatus;
  /** default null */
  parentId?: string | null;
}

export interface RotateOptions {
  /** write the new token (one line, mode 0600, atomically) to this file */
  writeTo?: string;
  /** write it this many clock ms later instead of at once (needs `writeTo`) */
  delayMs?: number;
}

export interface PlatformControl {
  /** Revokes every token of the workspace and issues a new one (returned). Creates no workspace. */
  rotateToken(id: string, options?: RotateOptions): string;
  /** Revokes every token: the workspace is back in bootstrap mode (register issues a new one, beats need none). */
  revokeToken(id: string): void;
  /** The live token, or undefined. */
  token(id: string): string | undefined;
  /** Replaces the rows GET /workspaces/:id/delegations returns (newest 50 by created_at). */
  setDelegations(id: string, rows: readonly DelegationRow[]): void;
  /** The next `times` requests to `route` ("*" = any) fail this way; calls queue in order. */
  failNext(route: PlatformRoute | "*", spec: FailureSpec): void;
  /** Stops listening and drops every connection: new connections are refused until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Answers every request to `route` ("*" = any) `ms` real milliseconds late (0 removes it). */
  latency(route: PlatformRoute | "*", ms: number): void;
  /** Every heartbeat whose body named this workspace_id, in arrival order (failed ones too). */
  beats(id: string): readonly RecordedBeat[];
  /** Every register call for this id, in arrival order. */
  registrations(id: string): readonly RecordedRegister[];
  /** Every POST /workspaces/:id/a2a, in arrival order. */
  a2aCalls(id: string): readonly RecordedCall[];
  /** Every POST /workspaces/:id/notify, in arrival order. */
  notifications(id: string): readonly RecordedCall[];
  /** Every request the platform saw, in arrival order (optionally one route). */
  requests(route?: PlatformRoute): readonly PlatformRequest[];
  /** The workspace's status, or undefined when the platform does not know it. */
  status(id: string): WorkspaceStatus | undefined;
  /** Creates (or resets the metadata of) a workspace as the provisioner would, without registering it. */
  seed(id: string, options?: SeedOptions): PlatformWorkspace;
  /** Forgets the workspace entirely (record, tokens, liveness): as if the platform lost it. Recordings stay. */
  forget(id: string): void;
  /** Drops the liveness record now, as if the TTL had elapsed (→ offline). */
  expire(id: string): void;
  /** How POST /workspaces/:id/a2a answers for this workspace. */
  setA2aMode(id: string, mode: A2aMode): void;
  /** Polls `predicate` every 10 real ms until it returns a truthy value (resolved with it) or `timeoutMs` (default 5000) passes. */
  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>>;
}

export interface TestPlatformOptions {
  /** default 0 (any free port) */
  port?: number;
  /** default "127.0.0.1" */
  host?: string;
  /** when set, every route but register/heartbeat answers 404 unless `X-Molecule-Org-Id` equals it */
  orgId?: string;
  /** requests per client IP per 60 s of clock time; no limit when absent */
  rateLimitPerMinute?: number;
  /** liveness record TTL in clock ms, default 180_000 */
  ttlMs?: number;
  /** default: the real clock */
  clock?: Clock;
  /** how many requests and events are kept (oldest dropped first), default 100_000 */
  recordLimit?: number;
}

export interface TestPlatform {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly workspaces: ReadonlyMap<string, PlatformWorkspace>;
  /** every event, oldest first (a live array) */
  readonly events: readonly PlatformEvent[];
  readonly control: PlatformControl;
  close(): Promise<void>;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const RegisterBody = z.object({
  id: z.string().regex(UUID_RE),
  url: z.string().min(1),
  agent_card: z.record(z.string(), z.unknown()),
});

const HeartbeatBody = z.object({
  workspace_id: z.string().min(1),
  error_rate: z.number().nullish(),
  sample_error: z.string().nullish(),
  active_tasks: z.number().int().nullish(),
  current_task: z.string().nullish(),
  uptime_seconds: z.number().nullish(),
  runtime_state: z.string().nullish(),
  runtime_metadata: z.record(z.string(), z.unknown()).nullish(),
});

const NotifyBody = z.object({ message: z.string().min(1) }).loose();

interface MutableWorkspace {
  id: string;
  name: string;
  status: WorkspaceStatus;
  parentId: string | null;
  url: string | null;
  agentCard: Record<string, unknown> | null;
  registeredAt: number | null;
  liveUntil: number | null;
  lastHeartbeatAt: number | null;
  errorRate: number;
  sampleError: string;
  activeTasks: number;
  currentTask: string;
  uptimeSeconds: number;
  runtimeState: string;
  runtimeMetadata: Record<string, unknown> | null;
}

/** True when `url` is acceptable to register: http/https, not a loopback / link-local / unspecified IP literal. */
export function isRegistrableUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
  if (parsed.hostname === "") return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const family = isIP(host);
  if (family === 4) return !isBadIpv4(host);
  if (family === 6) {
    if (host === "::1" || host === "::") return false;
    if (/^fe[89ab][0-9a-f]?:/.test(host)) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped?.[1] !== undefined) return !isBadIpv4(mapped[1]);
    const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mappedHex?.[1] !== undefined) {
      const hi = Number.parseInt(mappedHex[1], 16);
      return !isBadIpv4(`${hi >> 8}.${hi & 255}.0.0`);
    }
    return true;
  }
  return true;
}

function isBadIpv4(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number);
  return a === 127 || a === 0 || (a === 169 && b === 254);
}

function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** Writes `token` + "\n" to `file` with `@molecule/internal`'s durable write (mode 0600); the directory must exist. */
export function writeTokenFileSync(file: string, token: string): void {
  writeFileAtomicSync(file, `${token}\n`, { mode: 0o600, dirMode: false });
}

function routeOf(method: string, path: string): { route: PlatformRoute; id?: string } | undefined {
  if (method === "POST" && path === "/registry/register") return { route: "register" };
  if (method === "POST" && path === "/registry/heartbeat") return { route: "heartbeat" };
  const m = /^\/workspaces\/([^/]+)(\/delegations|\/a2a|\/notify)?\/?$/.exec(path);
  if (!m?.[1]) return undefined;
  const id = decodeURIComponent(m[1]);
  const tail = m[2];
  if (tail === "/delegations" && method === "GET") return { route: "delegations", id };
  if (tail === "/a2a" && method === "POST") return { route: "a2a", id };
  if (tail === "/notify" && method === "POST") return { route: "notify", id };
  if (tail === undefined && method === "GET") return { route: "workspace", id };
  return undefined;
}

/** Starts a loopback platform server that implements CONTRACT.md. */
export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const clock = options.clock ?? realClock;
  const ttlMs = options.ttlMs ?? 180_000;
  const host = options.host ?? "127.0.0.1";
  const recordLimit = options.recordLimit ?? 100_000;
  if (!(ttlMs > 0))
    throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: `ttlMs must be > 0, got ${ttlMs}` });
  if (options.rateLimitPerMinute !== undefined && !(options.rateLimitPerMinute > 0)) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `rateLimitPerMinute must be > 0 (omit it for no limit), got ${options.rateLimitPerMinute}`,
    });
  }

  const workspaces = new Map<string, MutableWorkspace>();
  const tokens = new Map<string, { token: string; hash: Buffer }>();
  const livenessTimers = new Map<string, unknown>();
  const otherTimers = new Set<unknown>();
  const events: PlatformEvent[] = [];
  const requests: PlatformRequest[] = [];
  const delegations = new Map<string, DelegationRow[]>();
  const a2aModes = new Map<string, A2aMode>();
  const failures: Array<{ route: PlatformRoute | "*"; spec: FailureSpec; left: number }> = [];
  const latencies = new Map<PlatformRoute | "*", number>();
  const rate = new Map<string, number[]>();
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  let closed = false;
  let isDown = false;

  const emit = (type: PlatformEventType, workspaceId: string, data: Record<string, unknown>) => {
    const at = clock.now();
    events.push({ type, workspaceId, at, timestamp: new Date(at).toISOString(), data });
    if (events.length > recordLimit) events.splice(0, events.length - recordLimit);
  };

  const setStatus = (ws: MutableWorkspace, to: WorkspaceStatus, reason: string) => {
    if (ws.status === to) return;
    const from = ws.status;
    ws.status = to;
    const type =
      to === "online"
        ? "WORKSPACE_ONLINE"
        : to === "degraded"
          ? "WORKSPACE_DEGRADED"
          : to === "offline"
            ? "WORKSPACE_OFFLINE"
            : undefined;
    if (type) emit(type, ws.id, { from, to, reason });
  };

  const dropLiveness = (id: string) => {
    const handle = livenessTimers.get(id);
    if (handle !== undefined) clock.clearTimeout(handle);
    livenessTimers.delete(id);
  };

  const expireNow = (ws: MutableWorkspace) => {
    dropLiveness(ws.id);
    ws.liveUntil = null;
    setStatus(ws, "offline", "liveness expired");
  };

  const armLiveness = (ws: MutableWorkspace) => {
    dropLiveness(ws.id);
    ws.liveUntil = clock.now() + ttlMs;
    livenessTimers.set(
      ws.id,
      clock.setTimeout(() => {
        livenessTimers.delete(ws.id);
        if (workspaces.get(ws.id) === ws && ws.liveUntil !== null) expireNow(ws);
      }, ttlMs),
    );
  };

  const newWorkspace = (id: string, seed: SeedOptions = {}): MutableWorkspace => ({
    id,
    name: seed.name ?? `ws-${id.slice(0, 8)}`,
    status: seed.status ?? "provisioning",
    parentId: seed.parentId ?? null,
    url: null,
    agentCard: null,
    registeredAt: null,
    liveUntil: null,
    lastHeartbeatAt: null,
    errorRate: 0,
    sampleError: "",
    activeTasks: 0,
    currentTask: "",
    uptimeSeconds: 0,
    runtimeState: "",
    runtimeMetadata: null,
  });

  const issueToken = (id: string): string => {
    const token = randomBytes(32).toString("base64url");
    tokens.set(id, { token, hash: hashToken(token) });
    return token;
  };

  const bearer = (headers: Record<string, string>): string | null => {
    const value = headers.authorization;
    if (value === undefined || !value.startsWith("Bearer ")) return null;
    const token = value.slice("Bearer ".length).trim();
    return token === "" ? null : token;
  };

  /** bootstrap-aware: without a live token, nothing is required */
  const judge = (id: string, token: string | null, bootstrapAllowed: boolean): AuthVerdict => {
    const live = tokens.get(id);
    if (!live) return bootstrapAllowed ? "bootstrap" : token === null ? "missing" : "invalid";
    if (token === null) return "missing";
    return timingSafeEqual(hashToken(token), live.hash) ? "ok" : "invalid";
  };

  const unauthorized = (res: ServerResponse, verdict: AuthVerdict) =>
    sendJson(res, 401, {
      error: verdict === "missing" ? "missing workspace auth token" : "invalid workspace auth token",
    });

  const takeFailure = (route: PlatformRoute): FailureSpec | undefined => {
    const index = failures.findIndex((f) => f.route === route || f.route === "*");
    if (index < 0) return undefined;
    const entry = failures[index];
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) failures.splice(index, 1);
    return entry.spec;
  };

  const rateLimited = (ip: string): number | undefined => {
    const limit = options.rateLimitPerMinute;
    if (limit === undefined) return undefined;
    const now = clock.now();
    const window = (rate.get(ip) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= limit) {
      rate.set(ip, window);
      const oldest = window[0] ?? now;
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
    }
    window.push(now);
    rate.set(ip, window);
    return undefined;
  };

  const applyBeat = (ws: MutableWorkspace, beat: z.infer<typeof HeartbeatBody>) => {
    const prevTasks = ws.activeTasks;
    const prevLabel = ws.currentTask;
    ws.lastHeartbeatAt = clock.now();
    ws.errorRate = beat.error_rate ?? 0;
    ws.sampleError = beat.sample_error ?? "";
    ws.activeTasks = beat.active_tasks ?? 0;
    ws.currentTask = beat.current_task ?? "";
    ws.uptimeSeconds = beat.uptime_seconds ?? 0;
    ws.runtimeState = beat.runtime_state ?? "";
    ws.runtimeMetadata = beat.runtime_metadata ?? null;
    if (ws.liveUntil !== null) armLiveness(ws);
    emit("WORKSPACE_HEARTBEAT", ws.id, {
      error_rate: ws.errorRate,
      sample_error: ws.sampleError,
      active_tasks: ws.activeTasks,
      current_task: ws.currentTask,
      uptime_seconds: ws.uptimeSeconds,
      runtime_state: ws.runtimeState,
    });
    if (ws.activeTasks !== prevTasks || ws.currentTask !== prevLabel) {
      emit("TASK_UPDATED", ws.id, { active_tasks: ws.activeTasks, current_task: ws.currentTask });
    }
    // The status machine of CONTRACT.md, applied in order within one beat.
    if (ws.status === "offline" || ws.status === "provisioning") setStatus(ws, "online", "heartbeat");
    if (ws.status === "online") {
      if (ws.runtimeState === "wedged") setStatus(ws, "degraded", "runtime wedged");
      else if (ws.errorRate >= 0.5) setStatus(ws, "degraded", "error rate");
    } else if (ws.status === "degraded" && ws.errorRate < 0.1 && ws.runtimeState === "") {
      setStatus(ws, "online", "recovered");
    }
  };

  const handleRegister = (res: ServerResponse, rec: PlatformRequest & { issuedToken?: string | null }) => {
    const parsed = RegisterBody.safeParse(rec.body);
    if (!parsed.success || !isRegistrableUrl(parsed.data.url)) {
      sendJson(res, 400, { error: "invalid request body" });
      return;
    }
    const { id, url, agent_card } = parsed.data;
    const verdict = judge(id, rec.token, true);
    rec.auth = verdict;
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return;
    }
    let ws = workspaces.get(id);
    if (!ws) {
      ws = newWorkspace(id);
      workspaces.set(id, ws);
    }
    ws.url = url;
    ws.agentCard = agent_card;
    const card = agent_card;
    if (typeof card.name === "string" && card.name !== "" && ws.registeredAt === null) ws.name = card.name;
    ws.registeredAt = clock.now();
    armLiveness(ws);
    setStatus(ws, "online", "register");
    if (verdict === "bootstrap") {
      const token = issueToken(id);
      rec.issuedToken = token;
      sendJson(res, 200, { status: "registered", auth_token: token });
      return;
    }
    sendJson(res, 200, { status: "registered" });
  };

  const handleHeartbeat = (res: ServerResponse, rec: PlatformRequest) => {
    const parsed = HeartbeatBody.safeParse(rec.body);
    if (!parsed.success) {
      sendJson(res, 400, { error: "invalid request body" });
      return;
    }
    const id = parsed.data.workspace_id;
    const verdict = judge(id, rec.token, true);
    rec.auth = verdict;
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return;
    }
    const ws = workspaces.get(id);
    if (ws) applyBeat(ws, parsed.data);
    sendJson(res, 200, { status: "ok" });
  };

  /** auth for the workspace routes: unknown workspace → 404 first; known → a live token is required */
  const guard = (res: ServerResponse, rec: PlatformRequest, id: string, as: string = id): boolean => {
    if (!workspaces.has(id)) {
      sendJson(res, 404, { error: "workspace not found" });
      return false;
    }
    const verdict = judge(as, rec.token, false);
    rec.auth = verdict;
    if (verdict !== "ok") {
      unauthorized(res, verdict);
      return false;
    }
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const matched = routeOf(method, path);
    const headers = plainHeaders(req);
    const raw = await readBody(req);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const route = matched?.route ?? "unknown";
    const rec: PlatformRequest & { workspaceId?: string; issuedToken?: string | null } = {
      route,
      method,
      path,
      at: clock.now(),
      headers,
      body,
      token: bearer(headers),
      auth: "not-checked",
      status: 0,
      injected: null,
    };
    requests.push(rec);
    const bodyId =
      route === "heartbeat" && typeof body === "object" && body !== null && "workspace_id" in body
        ? body.workspace_id
        : route === "register" && typeof body === "object" && body !== null && "id" in body
          ? body.id
          : matched?.id;
    if (typeof bodyId === "string") rec.workspaceId = bodyId;
    if (route === "register") rec.issuedToken = null;
    if (requests.length > recordLimit) requests.splice(0, requests.length - recordLimit);

    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (raw === undefined) {
      sendJson(res, 413, { error: "request body too large" });
      return;
    }
    if (!matched) {
      sendJson(res, 404, { error: "not found" });
      return;
    }
    const delay = latencies.get(matched.route) ?? latencies.get("*") ?? 0;
    if (delay > 0) await realSleep(delay);
    if (res.destroyed) return;

    const retryAfter = rateLimited(req.socket.remoteAddress ?? "?");
    if (retryAfter !== undefined) {
      sendJson(res, 429, { error: "rate limit exceeded" }, { "retry-after": String(retryAfter) });
      return;
    }

    const failure = takeFailure(matched.route);
    if (failure) {
      if ("status" in failure) {
        rec.injected = "status";
        const extra: Record<string, string> =
          failure.retryAfterSeconds === undefined ? {} : { "retry-after": String(failure.retryAfterSeconds) };
        sendJson(res, failure.status, failure.body ?? { error: `injected ${failure.status}` }, extra);
      } else if ("hang" in failure) {
        rec.injected = "hang";
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
      } else if ("reset" in failure) {
        rec.injected = "reset";
        req.socket.destroy();
      } else {
        rec.injected = "garbage";
        res.writeHead(200, { "content-type": "application/json" });
        res.end("<html><body>502 Bad Gateway</body></html>{not json");
      }
      return;
    }

    if (options.orgId !== undefined && matched.route !== "register" && matched.route !== "heartbeat") {
      if (headers["x-molecule-org-id"] !== options.orgId) {
        sendJson(res, 404, { error: "not found" });
        return;
      }
    }

    const id = matched.id ?? "";
    switch (matched.route) {
      case "register":
        handleRegister(res, rec);
        return;
      case "heartbeat":
        handleHeartbeat(res, rec);
        return;
      case "workspace": {
        if (!UUID_RE.test(id)) {
          sendJson(res, 400, { error: "invalid workspace id" });
          return;
        }
        const ws = workspaces.get(id);
        if (!ws) {
          sendJson(res, 404, { error: "workspace not found" });
          return;
        }
        sendJson(res, 200, {
          id: ws.id,
          name: ws.name,
          status: ws.status,
          parent_id: ws.parentId,
          url: ws.url,
          runtime_state: ws.runtimeState,
          active_tasks: ws.activeTasks,
          current_task: ws.currentTask,
          last_heartbeat_at: ws.lastHeartbeatAt === null ? null : new Date(ws.lastHeartbeatAt).toISOString(),
        });
        return;
      }
      case "delegations": {
        if (!guard(res, rec, id)) return;
        const rows = [...(delegations.get(id) ?? [])]
          .map((row, index) => ({ row: { type: "delegation", ...row }, index }))
          .sort((a, b) => Date.parse(b.row.created_at) - Date.parse(a.row.created_at) || a.index - b.index)
          .slice(0, 50)
          .map(({ row }) => row);
        sendJson(res, 200, rows);
        return;
      }
      case "notify": {
        if (!guard(res, rec, id)) return;
        if (!NotifyBody.safeParse(body).success) {
          sendJson(res, 400, { error: "message is required" });
          return;
        }
        sendJson(res, 200, { status: "sent" });
        return;
      }
      case "a2a": {
        const caller = headers["x-workspace-id"] ?? id;
        if (!guard(res, rec, id, caller)) return;
        const rpcId =
          typeof body === "object" &&
          body !== null &&
          "id" in body &&
          (typeof body.id === "string" || typeof body.id === "number")
            ? body.id
            : null;
        if (rpcId === null || typeof body !== "object" || body === null || !("method" in body)) {
          sendJson(res, 400, { error: "invalid request body" });
          return;
        }
        const mode = a2aModes.get(id) ?? "reply";
        if (mode === "busy") {
          sendJson(res, 503, { busy: true, retry_after: 30 }, { "retry-after": "30" });
          return;
        }
        if (mode === "queued") {
          sendJson(res, 202, { queued: true, workspace_id: id });
          return;
        }
        sendJson(res, 200, {
          jsonrpc: "2.0",
          id: rpcId,
          result: {
            kind: "message",
            role: "agent",
            messageId: randomBytes(8).toString("hex"),
            parts: [{ kind: "text", text: "ok" }],
          },
        });
        return;
      }
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: "internal error", detail: String(error) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });

  const port = await listen(options.port ?? 0);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const known = (id: string): MutableWorkspace => {
    const ws = workspaces.get(id);
    if (!ws) {
      throw new TestkitError({
        code: "E_TESTKIT_UNKNOWN_WORKSPACE",
        message: `the test platform does not know workspace ${id}; register it or call control.seed(id) first`,
      });
    }
    return ws;
  };

  const byWorkspace = <T extends PlatformRequest>(route: PlatformRoute, id: string): T[] =>
    requests.filter((r): r is T => r.route === route && (r as { workspaceId?: string }).workspaceId === id);

  const control: PlatformControl = {
    rotateToken(id, rotate = {}) {
      known(id);
      if (rotate.delayMs !== undefined && rotate.writeTo === undefined) {
        throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: "rotateToken: delayMs needs writeTo" });
      }
      const token = issueToken(id);
      const file = rotate.writeTo;
      if (file !== undefined) {
        if (rotate.delayMs !== undefined && rotate.delayMs > 0) {
          const handle = clock.setTimeout(() => {
            otherTimers.delete(handle);
            if (!closed) writeTokenFileSync(file, token);
          }, rotate.delayMs);
          otherTimers.add(handle);
        } else {
          writeTokenFileSync(file, token);
        }
      }
      return token;
    },
    revokeToken(id) {
      tokens.delete(id);
    },
    token: (id) => tokens.get(id)?.token,
    setDelegations(id, rows) {
      delegations.set(
        id,
        rows.map((row) => ({ ...row })),
      );
    },
    failNext(route, spec) {
      const times = spec.times ?? 1;
      if (!(times >= 1))
        throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: "failNext: times must be >= 1" });
      failures.push({ route, spec, left: times });
    },
    async down() {
      if (isDown || closed) return;
      isDown = true;
      await stopListening();
    },
    async up() {
      if (!isDown || closed) return;
      await listen(port);
      isDown = false;
    },
    latency(route, ms) {
      if (ms > 0) latencies.set(route, ms);
      else latencies.delete(route);
    },
    beats: (id) => byWorkspace<RecordedBeat>("heartbeat", id),
    registrations: (id) => byWorkspace<RecordedRegister>("register", id),
    a2aCalls: (id) => byWorkspace<RecordedCall>("a2a", id),
    notifications: (id) => byWorkspace<RecordedCall>("notify", id),
    requests: (route) => (route === undefined ? [...requests] : requests.filter((r) => r.route === route)),
    status: (id) => workspaces.get(id)?.status,
    seed(id, seed = {}) {
      if (!UUID_RE.test(id)) {
        throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: `seed: workspace ids are UUIDs, got "${id}"` });
      }
      const existing = workspaces.get(id);
      if (existing) {
        if (seed.name !== undefined) existing.name = seed.name;
        if (seed.parentId !== undefined) existing.parentId = seed.parentId;
        if (seed.status !== undefined) setStatus(existing, seed.status, "seed");
        return existing;
      }
      const ws = newWorkspace(id, seed);
      workspaces.set(id, ws);
      return ws;
    },
    forget(id) {
      dropLiveness(id);
      workspaces.delete(id);
      tokens.delete(id);
      delegations.delete(id);
    },
    expire(id) {
      expireNow(known(id));
    },
    setA2aMode(id, mode) {
      a2aModes.set(id, mode);
    },
    async waitFor<T>(predicate: () => T | Promise<T>, timeoutMs = 5_000): Promise<NonNullable<T>> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await predicate();
        if (value) return value;
        if (Date.now() >= deadline) {
          throw new TestkitError({
            code: "E_TESTKIT_WAIT_TIMEOUT",
            message: `waitFor: the condition did not hold within ${timeoutMs} ms`,
          });
        }
        await realSleep(10);
      }
    },
  };

  return {
    url,
    port,
    workspaces,
    events,
    control,
    async close() {
      if (closed) return;
      closed = true;
      for (const handle of livenessTimers.values()) clock.clearTimeout(handle);
      livenessTimers.clear();
      for (const handle of otherTimers) clock.clearTimeout(handle);
      otherTimers.clear();
      if (!isDown) await stopListening();
    },
  };
}
