/**
 * The process-wide wedge state. It lives on `globalThis` under `Symbol.for("@molecule/wedge")`, so
 * every copy of this package in one process — another version pinned by an adapter, the CJS build
 * beside the ESM one — reads and writes the same object.
 *
 * Compatibility rules for the shape (`STATE_VERSION`):
 * - the object is upgraded in place, never replaced: a copy that already holds a reference keeps
 *   seeing the truth;
 * - fields are only ever added; `wedged`, `reason`, `code` and `since` always mirror the aggregate,
 *   which is all a version-1 reader knew about;
 * - a newer version's object is used as it is (it keeps every field listed here).
 *
 * @internal
 */
export const STATE_KEY: unique symbol = Symbol.for("@molecule/wedge") as never;
export const STATE_VERSION = 2;

export interface ScopeEntry {
  reason: string;
  code: string | undefined;
  /** epoch ms */
  since: number;
}

export interface WedgeLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export type AnyListener = (state: never) => void;

/** @internal */
export interface SharedState {
  version: number;
  /** Aggregate mirror (the only fields of version 1). */
  wedged: boolean;
  reason: string;
  code?: string | undefined;
  since?: number | undefined;
  listeners: Set<AnyListener>;
  /** Since version 2: wedged scopes in the order they were wedged. */
  scopes: Map<string, ScopeEntry>;
  logger: WedgeLogger | undefined;
}

function isRecord(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === "object" && value !== null;
}

/** Returns the one shared state, creating or upgrading it in place. @internal */
export function sharedState(): SharedState {
  const holder = globalThis as unknown as Record<PropertyKey, unknown>;
  const existing = holder[STATE_KEY];
  if (!isRecord(existing)) {
    const fresh: SharedState = {
      version: STATE_VERSION,
      wedged: false,
      reason: "",
      listeners: new Set(),
      scopes: new Map(),
      logger: undefined,
    };
    holder[STATE_KEY] = fresh;
    return fresh;
  }
  return upgrade(existing);
}

function upgrade(state: Record<PropertyKey, unknown>): SharedState {
  const version = typeof state.version === "number" ? state.version : 1;
  if (!(state.listeners instanceof Set)) state.listeners = new Set();
  if (!(state.scopes instanceof Map)) {
    // Version 1 knew one flag: carry a wedge it recorded over as the default scope's.
    const scopes = new Map<string, ScopeEntry>();
    if (state.wedged === true) {
      const reason = typeof state.reason === "string" && state.reason.trim() ? state.reason : "wedged";
      scopes.set("default", {
        reason,
        code: typeof state.code === "string" ? state.code : undefined,
        since: typeof state.since === "number" ? state.since : Date.now(),
      });
    }
    state.scopes = scopes;
  }
  if (!("logger" in state)) state.logger = undefined;
  if (typeof state.wedged !== "boolean") state.wedged = false;
  if (typeof state.reason !== "string") state.reason = "";
  state.version = Math.max(version, STATE_VERSION);
  return state as unknown as SharedState;
}
