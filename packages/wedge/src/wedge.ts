import { WedgeError } from "./errors.js";
import { type ScopeEntry, type SharedState, sharedState, type WedgeLogger } from "./state.js";

/** The process-wide view: wedged while any scope is wedged; reason of the earliest still-wedged scope. */
export interface WedgeState {
  wedged: boolean;
  /** "" when healthy. */
  reason: string;
  code?: string;
  since?: Date;
}

export type WedgeListener = (state: WedgeState) => void;

export interface MarkOptions {
  /** A stable machine-readable code for the reason, e.g. "E_AGENT_INIT_TIMEOUT". */
  code?: string;
}

/** A named part of the runtime (one executor, say) that wedges and recovers on its own. */
export interface WedgeScope {
  readonly name: string;
  /** Marks this scope wedged. First write wins: while wedged, a later mark changes nothing. */
  mark(reason: string, options?: MarkOptions): void;
  /** Clears this scope. A no-op (and no event) when it is not wedged. */
  clear(): void;
  isWedged(): boolean;
  /** This scope's reason, "" when healthy. */
  reason(): string;
  state(): WedgeState;
}

export type { WedgeLogger };

const MAX_REASON_CHARS = 200;
const DEFAULT_SCOPE = "default";

function normaliseReason(reason: unknown): string {
  if (typeof reason !== "string" || reason.trim() === "") {
    throw new WedgeError({
      code: "E_WEDGE_EMPTY_REASON",
      message:
        'markWedged needs a non-empty reason an operator can act on, e.g. "agent init timeout — restart workspace"',
    });
  }
  const trimmed = reason.trim();
  const chars = Array.from(trimmed);
  return chars.length > MAX_REASON_CHARS ? `${chars.slice(0, MAX_REASON_CHARS).join("")}…` : trimmed;
}

function toState(entry: ScopeEntry | undefined): WedgeState {
  if (!entry) return { wedged: false, reason: "" };
  const state: WedgeState = { wedged: true, reason: entry.reason, since: new Date(entry.since) };
  if (entry.code !== undefined) state.code = entry.code;
  return state;
}

function earliest(state: SharedState): ScopeEntry | undefined {
  // Map iteration order is the order scopes were wedged in (a cleared scope is deleted).
  for (const entry of state.scopes.values()) return entry;
  return undefined;
}

function sameAggregate(a: WedgeState, b: WedgeState): boolean {
  return a.wedged === b.wedged && a.reason === b.reason && a.code === b.code;
}

function change(scope: string, apply: (state: SharedState) => boolean): void {
  const state = sharedState();
  const before = toState(earliest(state));
  if (!apply(state)) return;
  const after = toState(earliest(state));
  // Mirror for version-1 readers of the shared object.
  state.wedged = after.wedged;
  state.reason = after.reason;
  state.code = after.code;
  state.since = after.since?.getTime();
  if (sameAggregate(before, after)) return;
  if (after.wedged && !before.wedged) {
    state.logger?.warn({ event: "wedge.marked", scope, reason: after.reason, code: after.code }, "runtime wedged");
  } else if (!after.wedged) {
    state.logger?.info({ event: "wedge.cleared", scope }, "runtime no longer wedged");
  }
  for (const listener of [...state.listeners]) {
    try {
      (listener as WedgeListener)({ ...after });
    } catch (error) {
      state.logger?.warn(
        { event: "wedge.listener_failed", err: error instanceof Error ? error.message : String(error) },
        "a wedge listener threw; other listeners still ran",
      );
    }
  }
}

function markScope(scope: string, reason: string, options?: MarkOptions): void {
  const text = normaliseReason(reason);
  change(scope, (state) => {
    if (state.scopes.has(scope)) return false; // first write wins
    state.scopes.set(scope, { reason: text, code: options?.code, since: Date.now() });
    return true;
  });
}

function clearScope(scope: string): void {
  change(scope, (state) => state.scopes.delete(scope));
}

/** Marks the runtime wedged (the `default` scope). Only a restart or an observed success fixes it. */
export function markWedged(reason: string, options?: MarkOptions): void {
  markScope(DEFAULT_SCOPE, reason, options);
}

/** Clears the `default` scope's wedge, e.g. after the first observed successful turn. */
export function clearWedge(): void {
  clearScope(DEFAULT_SCOPE);
}

export function isWedged(): boolean {
  return sharedState().scopes.size > 0;
}

export function wedgeReason(): string {
  return earliest(sharedState())?.reason ?? "";
}

export function wedgeState(): WedgeState {
  return toState(earliest(sharedState()));
}

/** Calls `listener` with the aggregate state after every change of it. Returns an unsubscribe. */
export function onWedgeChange(listener: WedgeListener): () => void {
  if (typeof listener !== "function") throw new TypeError("onWedgeChange needs a function");
  const listeners = sharedState().listeners;
  // Wrap, so the same function subscribed twice is two subscriptions with two unsubscribes.
  const wrapped: WedgeListener = (state) => listener(state);
  listeners.add(wrapped as never);
  return () => {
    listeners.delete(wrapped as never);
  };
}

export function createWedgeScope(name: string): WedgeScope {
  if (typeof name !== "string" || name.trim() === "") {
    throw new WedgeError({
      code: "E_WEDGE_BAD_SCOPE",
      message: "createWedgeScope needs a non-empty name, e.g. the executor's",
    });
  }
  const scope = name.trim();
  return {
    name: scope,
    mark: (reason, options) => markScope(scope, reason, options),
    clear: () => clearScope(scope),
    isWedged: () => sharedState().scopes.has(scope),
    reason: () => sharedState().scopes.get(scope)?.reason ?? "",
    state: () => toState(sharedState().scopes.get(scope)),
  };
}

/** Routes the package's few log lines (wedged, cleared, a listener threw) to `logger`. Silent by default. */
export function setWedgeLogger(logger: WedgeLogger | undefined): void {
  sharedState().logger = logger;
}

/** Back to healthy with no listeners and no logger, firing nothing. For tests only. */
export function resetWedgeForTests(): void {
  const state = sharedState();
  state.scopes.clear();
  state.listeners.clear();
  state.logger = undefined;
  state.wedged = false;
  state.reason = "";
  state.code = undefined;
  state.since = undefined;
}
