import type { ClientRequest, ServerResponse } from "node:http";
import type { Clock } from "./clock.js";
import type {
  A2aMode,
  DelegationRow,
  FailureSpec,
  PlatformEvent,
  PlatformEventType,
  PlatformRequest,
  PlatformRoute,
  SeedOptions,
  TestPlatformOptions,
  WorkspaceStatus,
} from "./platform-types.js";

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The platform's record of one workspace (what `PlatformWorkspace` shows read-only). @internal */
export interface MutableWorkspace {
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

/**
 * Everything one test platform keeps: the validated options, the records (workspaces, tokens,
 * requests, events) and the injected behaviour (failures, latency, A2A modes). The server, the
 * routes and the control API all work on this one object. @internal
 */
export interface PlatformState {
  readonly options: TestPlatformOptions;
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly recordLimit: number;
  readonly workspaces: Map<string, MutableWorkspace>;
  readonly tokens: Map<string, { token: string; hash: Buffer }>;
  readonly livenessTimers: Map<string, unknown>;
  readonly otherTimers: Set<unknown>;
  readonly events: PlatformEvent[];
  readonly requests: PlatformRequest[];
  readonly delegations: Map<string, DelegationRow[]>;
  readonly a2aModes: Map<string, A2aMode>;
  readonly failures: Array<{ route: PlatformRoute | "*"; spec: FailureSpec; left: number }>;
  readonly latencies: Map<PlatformRoute | "*", number>;
  readonly rate: Map<string, number[]>;
  /** Responses held open by an injected hang (dropped by `down()` and `close()`). */
  readonly hanging: Set<ServerResponse>;
  /** A2A requests being forwarded to a workspace (destroyed by `down()` and `close()`). */
  readonly forwards: Set<ClientRequest>;
  closed: boolean;
  isDown: boolean;
}

/** @internal */
export function createPlatformState(
  options: TestPlatformOptions,
  clock: Clock,
  ttlMs: number,
  recordLimit: number,
): PlatformState {
  return {
    options,
    clock,
    ttlMs,
    recordLimit,
    workspaces: new Map(),
    tokens: new Map(),
    livenessTimers: new Map(),
    otherTimers: new Set(),
    events: [],
    requests: [],
    delegations: new Map(),
    a2aModes: new Map(),
    failures: [],
    latencies: new Map(),
    rate: new Map(),
    hanging: new Set(),
    forwards: new Set(),
    closed: false,
    isDown: false,
  };
}

/** @internal */
export interface WorkspaceRecords {
  /** Records an event (oldest dropped past `recordLimit`). */
  emit(type: PlatformEventType, workspaceId: string, data: Record<string, unknown>): void;
  /** Moves the status, with its WORKSPACE_* event. */
  setStatus(ws: MutableWorkspace, to: WorkspaceStatus, reason: string): void;
  dropLiveness(id: string): void;
  /** Drops the liveness record now (→ offline). */
  expireNow(ws: MutableWorkspace): void;
  /** (Re)starts the liveness record: offline after `ttlMs` without a beat. */
  armLiveness(ws: MutableWorkspace): void;
  newWorkspace(id: string, seed?: SeedOptions): MutableWorkspace;
}

/** Events, status changes and liveness records of the platform's workspaces. @internal */
export function createWorkspaceRecords(state: PlatformState): WorkspaceRecords {
  const { clock, ttlMs, recordLimit, events, workspaces, livenessTimers } = state;

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

  return { emit, setStatus, dropLiveness, expireNow, armLiveness, newWorkspace };
}
