import type { Clock } from "./clock.js";

export type WorkspaceStatus = "provisioning" | "online" | "degraded" | "offline";

/** The routes of docs/CONTRACT.md, by short name (used by `failNext`, `latency` and the request log). */
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

/** A row of GET /workspaces/:id/delegations (docs/CONTRACT.md). `type` defaults to "delegation". */
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

/**
 * What POST /workspaces/:id/a2a does. `forward` (the default, as the real platform): sends the
 * request to the URL the workspace registered and holds it until the workspace answers. The canned
 * modes answer by themselves, never reaching the workspace: `reply` a JSON-RPC message with the text
 * "ok", `queued` 202, `busy` 503.
 */
export type A2aMode = "forward" | "reply" | "queued" | "busy";

/** Options of `platform.sendMessage`. */
export interface SendMessageOptions {
  /** The A2A conversation (`message.contextId`); the workspace's default one when absent. */
  contextId?: string;
  /** Aborts the request. */
  signal?: AbortSignal;
}

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
  /** How POST /workspaces/:id/a2a answers for this workspace (default: the platform's `a2aMode`). */
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
  /** what POST /workspaces/:id/a2a does for every workspace without its own `setA2aMode`, default "forward" */
  a2aMode?: A2aMode;
  /**
   * What a heartbeat for a workspace the platform does not know (never registered, or `forget`-ed)
   * answers: `ok` — 200, nothing updated, as docs/CONTRACT.md says (the default) — or `not-found` —
   * 404 `{"error":"workspace not found"}`, as a platform that deleted the workspace does. A register
   * creates the workspace again either way.
   */
  unknownHeartbeat?: "ok" | "not-found";
}

export interface TestPlatform {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly workspaces: ReadonlyMap<string, PlatformWorkspace>;
  /** every event, oldest first (a live array) */
  readonly events: readonly PlatformEvent[];
  readonly control: PlatformControl;
  /**
   * Sends `text` to the workspace as `message/send` through `POST /workspaces/:id/a2a` (with its live
   * token; recorded in `a2aCalls`) and resolves with the reply text. With the default `forward` mode
   * it reaches the workspace's own A2A server and waits for the turn. Rejects with
   * `E_TESTKIT_A2A_FAILED` on a JSON-RPC error or a non-2xx answer.
   */
  sendMessage(workspaceId: string, text: string, options?: SendMessageOptions): Promise<string>;
  close(): Promise<void>;
}
