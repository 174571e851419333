import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createSessionStore,
  encodeProjectDir,
  planResume,
  type ResolveResumeOptions,
  recordTurn,
  type SessionStore,
} from "./index.js";

const ID = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";
const NEW_ID = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

let dir: string;
let store: SessionStore;
let storeFile: string;
let opts: ResolveResumeOptions;
beforeEach(async () => {
  dir = await tempDir("molecule-session-");
  const cwd = join(dir, "work");
  await mkdir(cwd);
  storeFile = join(dir, "state", "session.json");
  store = createSessionStore({ file: storeFile });
  opts = { agent: "claude-code", cwd, claudeDir: join(dir, "claude"), searchDirs: [] };
});
afterEach(() => removeDir(dir));

async function transcript(forCwd: string, id: string, content = "{}\n"): Promise<void> {
  const projectDir = join(dir, "claude", "projects", await encodeProjectDir(forCwd));
  await mkdir(projectDir, { recursive: true });
  await writeFile(join(projectDir, `${id}.jsonl`), content);
}

describe("planResume", () => {
  it("nothing remembered → start fresh (`none`)", async () => {
    expect(await planResume(store, opts)).toEqual({ resume: undefined, reason: "none" });
  });

  it("a remembered id with its transcript → resume it and keep it", async () => {
    await store.set(ID);
    await transcript(opts.cwd, ID);
    expect(await planResume(store, opts)).toEqual({ resume: ID, reason: "found" });
    expect(await store.get()).toBe(ID);
  });

  it("a remembered id whose transcript is gone (container recreated) → start fresh and forget it", async () => {
    await store.set(ID);
    const sink = sinkLogger();
    expect(await planResume(store, { ...opts, logger: sink.logger })).toEqual({ resume: undefined, reason: "missing" });
    expect(await store.get()).toBeUndefined();
    expect(sink.lines.map((l) => [l.level, l.obj.event, l.obj.sessionId, l.obj.reason])).toEqual([
      ["info", "session.dropped", ID, "missing"],
    ]);
  });

  it("a 0-byte transcript → start fresh and forget it", async () => {
    await store.set(ID);
    await transcript(opts.cwd, ID, "");
    expect(await planResume(store, opts)).toEqual({ resume: undefined, reason: "empty-file" });
    expect(await store.get()).toBeUndefined();
  });

  it("a transcript under the previous workspace path → relocate, resume, keep", async () => {
    await store.set(ID);
    await transcript(join(dir, "old-path"), ID);
    expect(await planResume(store, opts)).toEqual({ resume: ID, reason: "relocated" });
    expect(await store.get()).toBe(ID);
  });

  it("an invalid id in a hand-edited store is dropped (the store reads it as corrupt)", async () => {
    await mkdir(join(dir, "state"));
    await writeFile(storeFile, JSON.stringify({ version: 1, sessionId: "*" }));
    expect(await planResume(store, opts)).toEqual({ resume: undefined, reason: "none" });
  });

  it("an invalid id from a custom store is `invalid-id` and cleared", async () => {
    let held: string | undefined = "../../etc/passwd";
    const custom: SessionStore = {
      get: async () => held,
      set: async (id) => {
        held = id;
      },
      clear: async () => {
        held = undefined;
      },
    };
    expect(await planResume(custom, opts)).toEqual({ resume: undefined, reason: "invalid-id" });
    expect(held).toBeUndefined();
  });

  it("a store that cannot be cleared still yields the plan, with a WARN", async () => {
    const custom: SessionStore = {
      get: async () => ID,
      set: async () => undefined,
      clear: async () => {
        throw new Error("read-only file system");
      },
    };
    const sink = sinkLogger();
    expect(await planResume(custom, { ...opts, logger: sink.logger })).toEqual({
      resume: undefined,
      reason: "missing",
    });
    expect(sink.events()).toEqual(["session.dropped", "session.store_clear_failed"]);
  });
});

describe("recordTurn", () => {
  it("`ok` keeps the new id", async () => {
    await store.set(ID);
    await recordTurn(store, { sessionId: NEW_ID, result: "ok" });
    expect(await store.get()).toBe(NEW_ID);
  });

  it("`ok` with the same id does not rewrite the file", async () => {
    await store.set(ID);
    const before = await stat(storeFile, { bigint: true });
    await recordTurn(store, { sessionId: ID, result: "ok" });
    const after = await stat(storeFile, { bigint: true });
    expect(after.ino).toBe(before.ino); // a write would rename a new inode into place
    expect(await store.get()).toBe(ID);
  });

  it("`ok` without an id leaves the store as it is", async () => {
    await store.set(ID);
    await recordTurn(store, { result: "ok" });
    await recordTurn(store, { sessionId: "", result: "ok" });
    expect(await store.get()).toBe(ID);
  });

  it("`session-missing` clears it", async () => {
    await store.set(ID);
    await recordTurn(store, { sessionId: NEW_ID, result: "session-missing" });
    expect(await store.get()).toBeUndefined();
  });

  it("`failed` leaves it", async () => {
    await store.set(ID);
    await recordTurn(store, { sessionId: NEW_ID, result: "failed" });
    expect(await store.get()).toBe(ID);
  });

  it("refuses an invalid id on `ok` and an unknown result", async () => {
    await expect(recordTurn(store, { sessionId: "../x", result: "ok" })).rejects.toMatchObject({
      code: "E_SESSION_INVALID_ID",
    });
    await expect(recordTurn(store, { result: "weird" as "ok" })).rejects.toMatchObject({
      code: "E_SESSION_BAD_OPTIONS",
    });
  });
});
