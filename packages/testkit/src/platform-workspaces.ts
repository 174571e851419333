import type { Clock } from "./clock.js";
import { type BeatRecord, emptyBeat } from "./platform-registry.js";
import type {
  PlatformEvent,
  PlatformEventType,
  PlatformWorkspace,
  SeedOptions,
  WorkspaceStatus,
} from "./platform-types.js";

/** What the platform knows of a workspace apart from its last beat; written only in this file. @internal */
interface WorkspaceRecord {
  id: string;
  name: string;
  status: WorkspaceStatus;
  parentId: string | null;
  url: string | null;
  agentCard: Record<string, unknown> | null;
  registeredAt: number | null;
  liveUntil: number | null;
}

type MutableWorkspace = WorkspaceRecord & BeatRecord;

/**
 * A workspace as the registry routes see it: the beat fields are theirs to write (platform-registry.ts
 * owns them), everything else is read-only outside this file. @internal
 */
export type BeatTarget = Readonly<WorkspaceRecord> & BeatRecord;

/** @internal */
export interface WorkspacesInput {
  readonly clock: Clock;
  /** liveness record TTL in clock ms */
  readonly ttlMs: number;
  /** how many events are kept (oldest dropped first) */
  readonly recordLimit: number;
}

/** @internal */
export interface Workspaces {
  /** The live records (what `platform.workspaces` shows). */
  readonly all: ReadonlyMap<string, PlatformWorkspace>;
  /** Every event, oldest first (a live array). */
  readonly events: readonly PlatformEvent[];
  has(id: string): boolean;
  get(id: string): PlatformWorkspace | undefined;
  /** The record whose beat fields the heartbeat route writes, or undefined when unknown. */
  beatTarget(id: string): BeatTarget | undefined;
  /** Records an event (oldest dropped past `recordLimit`). */
  emit(type: PlatformEventType, workspaceId: string, data: Record<string, unknown>): void;
  /** Moves the status, with its WORKSPACE_* event. */
  setStatus(id: string, to: WorkspaceStatus, reason: string): void;
  /** A successful register: creates the record if needed, stores url and card, (re)arms liveness, → online. */
  register(id: string, url: string, agentCard: Record<string, unknown>): void;
  /** A beat arrived: re-arms the liveness record if there is one. */
  beatArrived(id: string): void;
  /** Creates (or resets the metadata of) a workspace as the provisioner would. */
  seed(id: string, seed?: SeedOptions): PlatformWorkspace;
  /** Drops the record and its liveness (recordings stay). */
  forget(id: string): void;
  /** Drops the liveness record now (→ offline). */
  expire(id: string): void;
  /** Clears every liveness timer (the platform is closing). */
  close(): void;
}

/** The platform's workspace records, their events, status changes and liveness records. @internal */
export function createWorkspaces({ clock, ttlMs, recordLimit }: WorkspacesInput): Workspaces {
  const workspaces = new Map<string, MutableWorkspace>();
  const events: PlatformEvent[] = [];
  const livenessTimers = new Map<string, unknown>();

  const emit = (type: PlatformEventType, workspaceId: string, data: Record<string, unknown>) => {
    const at = clock.now();
    events.push({ type, workspaceId, at, timestamp: new Date(at).toISOString(), data });
    if (events.length > recordLimit) events.splice(0, events.length - recordLimit);
  };

  const moveStatus = (ws: MutableWorkspace, to: WorkspaceStatus, reason: string) => {
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
    moveStatus(ws, "offline", "liveness expired");
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

  const create = (id: string, seed: SeedOptions = {}): MutableWorkspace => {
    const ws: MutableWorkspace = {
      id,
      name: seed.name ?? `ws-${id.slice(0, 8)}`,
      status: seed.status ?? "provisioning",
      parentId: seed.parentId ?? null,
      url: null,
      agentCard: null,
      registeredAt: null,
      liveUntil: null,
      ...emptyBeat(),
    };
    workspaces.set(id, ws);
    return ws;
  };

  return {
    all: workspaces,
    events,
    has: (id) => workspaces.has(id),
    get: (id) => workspaces.get(id),
    beatTarget: (id) => workspaces.get(id),
    emit,
    setStatus(id, to, reason) {
      const ws = workspaces.get(id);
      if (ws) moveStatus(ws, to, reason);
    },
    register(id, url, agentCard) {
      const ws = workspaces.get(id) ?? create(id);
      ws.url = url;
      ws.agentCard = agentCard;
      if (typeof agentCard.name === "string" && agentCard.name !== "" && ws.registeredAt === null) {
        ws.name = agentCard.name;
      }
      ws.registeredAt = clock.now();
      armLiveness(ws);
      moveStatus(ws, "online", "register");
    },
    beatArrived(id) {
      const ws = workspaces.get(id);
      if (ws && ws.liveUntil !== null) armLiveness(ws);
    },
    seed(id, seed = {}) {
      const existing = workspaces.get(id);
      if (!existing) return create(id, seed);
      if (seed.name !== undefined) existing.name = seed.name;
      if (seed.parentId !== undefined) existing.parentId = seed.parentId;
      if (seed.status !== undefined) moveStatus(existing, seed.status, "seed");
      return existing;
    },
    forget(id) {
      dropLiveness(id);
      workspaces.delete(id);
    },
    expire(id) {
      const ws = workspaces.get(id);
      if (ws) expireNow(ws);
    },
    close() {
      for (const handle of livenessTimers.values()) clock.clearTimeout(handle);
      livenessTimers.clear();
    },
  };
}
