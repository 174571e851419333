import { writeFileAtomicSync } from "@molecule/internal";
import type { Clock } from "./clock.js";
import { TestkitError } from "./errors.js";
import { realSleep } from "./http-util.js";
import type { PlatformAuth } from "./platform-auth.js";
import { UUID_RE } from "./platform-registry.js";
import type {
  A2aMode,
  DelegationRow,
  FailureSpec,
  PlatformControl,
  PlatformRequest,
  PlatformRoute,
  RecordedBeat,
  RecordedCall,
  RecordedRegister,
} from "./platform-types.js";
import type { Workspaces } from "./platform-workspaces.js";

/** Writes `token` + "\n" to `file` with `@molecule/internal`'s durable write (mode 0600); the directory must exist. */
export function writeTokenFileSync(file: string, token: string): void {
  writeFileAtomicSync(file, `${token}\n`, { mode: 0o600, dirMode: false });
}

/** What the routes read of the injected behaviour. @internal */
export interface InjectedBehaviour {
  /** The next queued failure for `route` (or "*"), consumed; undefined when none. */
  takeFailure(route: PlatformRoute): FailureSpec | undefined;
  /** The injected latency for `route` in real ms (0 when none). */
  delayFor(route: PlatformRoute): number;
  /** The workspace's own A2A mode, if `setA2aMode` set one. */
  a2aModeOf(id: string): A2aMode | undefined;
  /** The rows `setDelegations` stored for the workspace. */
  delegationsOf(id: string): readonly DelegationRow[];
}

/**
 * The injected behaviour (failures, latency, A2A modes, delegation rows). The routes read it through
 * `InjectedBehaviour`; only the control API below writes it. @internal
 */
export interface Injections extends InjectedBehaviour {
  failNext(route: PlatformRoute | "*", spec: FailureSpec, times: number): void;
  setLatency(route: PlatformRoute | "*", ms: number): void;
  setA2aMode(id: string, mode: A2aMode): void;
  setDelegations(id: string, rows: readonly DelegationRow[]): void;
  forget(id: string): void;
}

/** @internal */
export function createInjections(): Injections {
  const failures: Array<{ route: PlatformRoute | "*"; spec: FailureSpec; left: number }> = [];
  const latencies = new Map<PlatformRoute | "*", number>();
  const a2aModes = new Map<string, A2aMode>();
  const delegations = new Map<string, DelegationRow[]>();
  return {
    takeFailure(route) {
      const index = failures.findIndex((f) => f.route === route || f.route === "*");
      const entry = failures[index];
      if (!entry) return undefined;
      entry.left -= 1;
      if (entry.left <= 0) failures.splice(index, 1);
      return entry.spec;
    },
    delayFor: (route) => latencies.get(route) ?? latencies.get("*") ?? 0,
    a2aModeOf: (id) => a2aModes.get(id),
    delegationsOf: (id) => delegations.get(id) ?? [],
    failNext(route, spec, times) {
      failures.push({ route, spec, left: times });
    },
    setLatency(route, ms) {
      if (ms > 0) latencies.set(route, ms);
      else latencies.delete(route);
    },
    setA2aMode(id, mode) {
      a2aModes.set(id, mode);
    },
    setDelegations(id, rows) {
      delegations.set(
        id,
        rows.map((row) => ({ ...row })),
      );
    },
    forget(id) {
      delegations.delete(id);
    },
  };
}

/** @internal */
export interface ControlInput {
  readonly clock: Clock;
  readonly workspaces: Pick<Workspaces, "get" | "seed" | "forget" | "expire">;
  readonly auth: Pick<PlatformAuth, "issueToken" | "revoke" | "liveToken">;
  readonly injections: Injections;
  /** the request log, oldest first (read-only: the routes write it) */
  readonly requests: readonly PlatformRequest[];
  /** the listening socket's outage switch (platform.ts owns it) */
  readonly server: { down(): Promise<void>; up(): Promise<void> };
}

/** @internal */
export interface ControlParts {
  readonly control: PlatformControl;
  /** Cancels the delayed token writes (the platform is closing). */
  dispose(): void;
}

/** The test's side of the platform: tokens, injected failures, outages, recordings, workspace records. @internal */
export function createControl({ clock, workspaces, auth, injections, requests, server }: ControlInput): ControlParts {
  const timers = new Set<unknown>();

  const known = (id: string): void => {
    if (!workspaces.get(id)) {
      throw new TestkitError({
        code: "E_TESTKIT_UNKNOWN_WORKSPACE",
        message: `the test platform does not know workspace ${id}; register it or call control.seed(id) first`,
      });
    }
  };

  const byWorkspace = <T extends PlatformRequest>(route: PlatformRoute, id: string): T[] =>
    requests.filter((r): r is T => r.route === route && (r as { workspaceId?: string }).workspaceId === id);

  const control: PlatformControl = {
    rotateToken(id, rotate = {}) {
      known(id);
      if (rotate.delayMs !== undefined && rotate.writeTo === undefined) {
        throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: "rotateToken: delayMs needs writeTo" });
      }
      const token = auth.issueToken(id);
      const file = rotate.writeTo;
      if (file !== undefined) {
        if (rotate.delayMs !== undefined && rotate.delayMs > 0) {
          const handle = clock.setTimeout(() => {
            timers.delete(handle);
            writeTokenFileSync(file, token);
          }, rotate.delayMs);
          timers.add(handle);
        } else {
          writeTokenFileSync(file, token);
        }
      }
      return token;
    },
    revokeToken(id) {
      auth.revoke(id);
    },
    token: (id) => auth.liveToken(id),
    setDelegations(id, rows) {
      injections.setDelegations(id, rows);
    },
    failNext(route, spec) {
      const times = spec.times ?? 1;
      if (!(times >= 1))
        throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: "failNext: times must be >= 1" });
      injections.failNext(route, spec, times);
    },
    down: () => server.down(),
    up: () => server.up(),
    latency(route, ms) {
      injections.setLatency(route, ms);
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
      return workspaces.seed(id, seed);
    },
    forget(id) {
      workspaces.forget(id);
      auth.revoke(id);
      injections.forget(id);
    },
    expire(id) {
      known(id);
      workspaces.expire(id);
    },
    setA2aMode(id, mode) {
      injections.setA2aMode(id, mode);
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

  const dispose = () => {
    for (const handle of timers) clock.clearTimeout(handle);
    timers.clear();
  };

  return { control, dispose };
}
