import { watch as nodeFsWatch } from "node:fs";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sinkLogger, waitFor } from "@molecule/test-support";
import { createFakeClock, type FakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTokenStore, type TokenStore, type TokenStoreOptions } from "./token-store.js";

const T1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const T2 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const T3 = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

let dir: string;
let file: string;
const stores: TokenStore[] = [];
const store = () => {
  const s = createTokenStore({ configsDir: dir, env: {} });
  stores.push(s);
  return s;
};
const watched = (opts: Partial<TokenStoreOptions> = {}) => {
  const s = createTokenStore({ configsDir: dir, env: {}, watch: true, ...opts });
  stores.push(s);
  return s;
};
/** Resolves with the next rotated token (real fs.watch events; bounded by the test timeout). */
const nextRotation = (s: TokenStore) =>
  new Promise<string>((resolve) => {
    const off = s.onRotated((token) => {
      off();
      resolve(token);
    });
  });
/** A watch that never fires: a filesystem where inotify does not work (NFS, some overlay setups). */
const deafWatch = () => ({ close() {}, on() {} });
const replace = async (target: string, content: string) => {
  const tmp = `${target}.tmp-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, target);
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "auth-watch-"));
  file = path.join(dir, ".auth_token");
});
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe("watch", () => {
  it("calls onRotated with the new token when the file is replaced by rename", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const s = watched();
    expect(await s.get()).toBe(T1);
    const rotated = nextRotation(s);
    await replace(file, T2);
    expect(await rotated).toBe(T2);
    const again = nextRotation(s);
    await replace(file, T3);
    expect(await again).toBe(T3);
  });

  it("calls onRotated when a token appears where there was none", async () => {
    const s = watched();
    expect(await s.get()).toBeUndefined();
    const rotated = nextRotation(s);
    await writeFile(file, `${T1}\n`, { mode: 0o600 });
    expect(await rotated).toBe(T1);
  });

  it("falls back to the stat poll (every 5 s of the injected clock) when fs.watch reports nothing", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const clock = createFakeClock(0);
    const s = watched({ clock, fs: { watch: deafWatch } });
    expect(await s.get()).toBe(T1);
    await idle(); // the watch's initial read is done, so only the poll can see what follows
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    await replace(file, T2);
    await armed(clock);
    await clock.advance(4_999);
    expect(seen).toEqual([]);
    await clock.advance(1);
    await armed(clock); // the poll's check finished and the next one is armed
    expect(seen).toEqual([T2]);
    expect(clock.pending()).toBe(1); // the next poll is armed
  });

  it("follows a Kubernetes secret volume update (..data symlink swap)", async () => {
    // kubelet layout: .auth_token -> ..data/.auth_token, ..data -> ..<timestamp>/
    await mkdir(path.join(dir, "..2024_01_01"));
    await writeFile(path.join(dir, "..2024_01_01", ".auth_token"), T1);
    await symlink("..2024_01_01", path.join(dir, "..data"));
    await symlink("..data/.auth_token", file);
    const s = watched();
    expect(await s.get()).toBe(T1);
    const rotated = nextRotation(s);
    await mkdir(path.join(dir, "..2024_02_02"));
    await writeFile(path.join(dir, "..2024_02_02", ".auth_token"), T2);
    await symlink("..2024_02_02", path.join(dir, "..data_tmp"));
    await rename(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    await rm(path.join(dir, "..2024_01_01"), { recursive: true });
    expect(await rotated).toBe(T2);
    expect(await s.get()).toBe(T2);
  });

  it("save() of a different token notifies listeners once; an identical save does not", async () => {
    const s = watched({ fs: { watch: deafWatch } });
    await s.save(T1);
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    await s.save(T2);
    await s.save(T2);
    await s.get();
    expect(seen).toEqual([T2]);
  });

  it("unsubscribe stops a listener", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const s = store();
    await s.get();
    const seen: string[] = [];
    const off = s.onRotated((token) => seen.push(token));
    await replace(file, T2);
    await s.get();
    off();
    await replace(file, T3);
    await s.get();
    expect(seen).toEqual([T2]);
  });

  it("a configs directory that appears later is picked up by the poll, then watched", async () => {
    const later = path.join(dir, "configs");
    const clock = createFakeClock(0);
    let watchers = 0;
    const s = watched({
      configsDir: later,
      clock,
      fs: {
        watch: (target, listener) => {
          watchers += 1;
          return nodeWatch(target, listener);
        },
      },
    });
    expect(await s.get()).toBeUndefined();
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    await mkdir(later);
    await writeFile(path.join(later, ".auth_token"), T1, { mode: 0o600 });
    await pollOnce(clock);
    expect(seen).toEqual([T1]);
    expect(watchers).toBe(2); // failed at start (no directory), started on the poll
    const rotated = nextRotation(s);
    await replace(path.join(later, ".auth_token"), T2);
    expect(await rotated).toBe(T2); // a real fs.watch event, no clock advance
  });

  it("a watcher that errors is dropped (logged) and the poll carries on", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const clock = createFakeClock(0);
    const lines: string[] = [];
    const log = (obj: object) => lines.push(JSON.stringify(obj));
    let fail: ((error: Error) => void) | undefined;
    const s = watched({
      clock,
      logger: { info: log, warn: log, error: log },
      fs: {
        watch: () => ({
          close() {},
          on(_event, listener) {
            fail = listener;
          },
        }),
      },
    });
    await s.get();
    await idle();
    fail?.(Object.assign(new Error("watch died"), { code: "EMFILE" }));
    expect(lines.some((l) => l.includes("token.watch_failed") && l.includes("EMFILE"))).toBe(true);
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    await replace(file, T2);
    await pollOnce(clock);
    expect(seen).toEqual([T2]);
  });

  it("re-stats on any watch event, even one without a filename", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    let emit: ((event: string, filename: string | null) => void) | undefined;
    const s = watched({
      fs: {
        watch: (_dir, listener) => {
          emit = listener;
          return { close() {}, on() {} };
        },
      },
    });
    await s.get();
    await idle();
    const rotated = nextRotation(s);
    await replace(file, T2);
    emit?.("rename", null);
    expect(await rotated).toBe(T2);
  });

  it("close() stops the poll and the watcher", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const clock = createFakeClock(0);
    let closedWatchers = 0;
    const s = watched({
      clock,
      fs: {
        watch: () => ({
          close() {
            closedWatchers += 1;
          },
          on() {},
        }),
      },
    });
    await s.get();
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    expect(clock.pending()).toBe(1);
    s.close();
    s.close();
    expect(clock.pending()).toBe(0);
    expect(closedWatchers).toBe(1);
    await replace(file, T2);
    await clock.advance(60_000);
    expect(seen).toEqual([]);
  });

  it("does not fire for the same token written again, nor for a token that disappears and comes back", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const clock = createFakeClock(0);
    const s = watched({ clock, fs: { watch: deafWatch } });
    await s.get();
    const seen: string[] = [];
    s.onRotated((token) => seen.push(token));
    await replace(file, `${T1}\n`);
    await pollOnce(clock);
    await rm(file);
    await pollOnce(clock);
    await replace(file, T1);
    await pollOnce(clock);
    await replace(file, T2);
    await pollOnce(clock);
    expect(seen).toEqual([T2]);
  });

  it("a listener that throws is logged (without the token) and the others still run", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const sink = sinkLogger();
    const s = watched({ logger: sink.logger });
    await s.get();
    s.onRotated((token) => {
      throw new Error(`cannot use ${token}`);
    });
    const rotated = nextRotation(s);
    await replace(file, T2);
    expect(await rotated).toBe(T2);
    expect(sink.events()).toContain("token.listener_failed");
    expect(sink.text()).not.toContain(T2);
  });
});

/** Waits until the next stat poll is armed (the previous one, if any, has finished its check). */
const armed = (clock: FakeClock) => waitFor(() => clock.pending() === 1, 5_000, 5);
/** Runs exactly one stat poll to completion. */
async function pollOnce(clock: FakeClock) {
  await armed(clock);
  await clock.advance(5_000);
  await armed(clock);
}

const idle = () => new Promise((resolve) => setTimeout(resolve, 50));

const nodeWatch = (target: string, listener: (event: string, filename: string | null) => void) =>
  nodeFsWatch(target, { persistent: false }, (event, filename) => listener(event, filename));
