import { writeFileAtomicSync } from "@molecule/internal";
import { TestkitError } from "./errors.js";
import { realSleep } from "./http-util.js";
import type { PlatformAuth } from "./platform-auth.js";
import { type MutableWorkspace, type PlatformState, UUID_RE, type WorkspaceRecords } from "./platform-state.js";
import type {
  PlatformControl,
  PlatformRequest,
  PlatformRoute,
  RecordedBeat,
  RecordedCall,
  RecordedRegister,
} from "./platform-types.js";

/** Writes `token` + "\n" to `file` with `@molecule/internal`'s durable write (mode 0600); the directory must exist. */
export function writeTokenFileSync(file: string, token: string): void {
  writeFileAtomicSync(file, `${token}\n`, { mode: 0o600, dirMode: false });
}

/** The test's side of the platform: tokens, injected failures, outages, recordings, workspace records. @internal */
export function createControl(
  state: PlatformState,
  records: WorkspaceRecords,
  auth: PlatformAuth,
  server: { stopListening(): Promise<void>; listenAgain(): Promise<unknown> },
): PlatformControl {
  const { clock, workspaces, tokens, otherTimers, requests, delegations, failures, latencies, a2aModes } = state;
  const { setStatus, newWorkspace, dropLiveness, expireNow } = records;
  const { issueToken } = auth;

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
            if (!state.closed) writeTokenFileSync(file, token);
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
      if (state.isDown || state.closed) return;
      state.isDown = true;
      await server.stopListening();
    },
    async up() {
      if (!state.isDown || state.closed) return;
      await server.listenAgain();
      state.isDown = false;
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

  return control;
}
