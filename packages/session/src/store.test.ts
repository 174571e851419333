import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSessionStore, SessionError } from "./index.js";

const ID = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";
const ID2 = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-session-");
});
afterEach(() => removeDir(dir));

describe("createSessionStore", () => {
  it("is empty before anything is stored", async () => {
    const sink = sinkLogger();
    const store = createSessionStore({ file: join(dir, "session.json"), logger: sink.logger });
    expect(await store.get()).toBeUndefined();
    expect(sink.lines).toEqual([]);
  });

  it("remembers an id across instances (a daemon restart)", async () => {
    const file = join(dir, "state", "session.json");
    await createSessionStore({ file }).set(ID);
    expect(await createSessionStore({ file }).get()).toBe(ID);
    await createSessionStore({ file }).set(ID2);
    expect(await createSessionStore({ file }).get()).toBe(ID2);
  });

  it("writes a 0600 file in a 0700 directory and leaves no temp file", async () => {
    const file = join(dir, "state", "session.json");
    const store = createSessionStore({ file });
    await store.set(ID);
    await store.set(ID2);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "state"))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(dir, "state"))).toEqual(["session.json"]);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ version: 1, sessionId: ID2 });
  });

  it("replaces a looser pre-existing file with a 0600 one", async () => {
    const file = join(dir, "session.json");
    await writeFile(file, JSON.stringify({ version: 1, sessionId: ID }));
    await chmod(file, 0o644);
    await createSessionStore({ file }).set(ID2);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("clear forgets the id and is a no-op when nothing is stored", async () => {
    const file = join(dir, "session.json");
    const store = createSessionStore({ file });
    await store.clear();
    await store.set(ID);
    await store.clear();
    expect(await store.get()).toBeUndefined();
    await store.clear();
    expect(await readdir(dir)).toEqual([]);
  });

  it("reads a corrupt file as empty with one WARN, never a crash", async () => {
    const file = join(dir, "session.json");
    const sink = sinkLogger();
    const store = createSessionStore({ file, logger: sink.logger });
    for (const content of ["{not json", "", '{"version":1,"sessionId":"../../etc"}', '{"sessionId":42}', "[]"]) {
      await store.clear(); // re-arms the warning
      sink.lines.length = 0;
      await writeFile(file, content);
      expect(await store.get(), content).toBeUndefined();
      expect(await store.get(), content).toBeUndefined();
      expect(sink.lines, content).toHaveLength(1);
      expect(sink.lines[0]).toMatchObject({ level: "warn", obj: { event: "session.store_corrupt", file } });
    }
    // A later set repairs it.
    await store.set(ID);
    expect(await store.get()).toBe(ID);
  });

  it("reads an unreadable path (a directory) as empty with a WARN", async () => {
    const file = join(dir, "session.json");
    await mkdir(file);
    const sink = sinkLogger();
    expect(await createSessionStore({ file, logger: sink.logger }).get()).toBeUndefined();
    expect(sink.events()).toEqual(["session.store_corrupt"]);
  });

  it("refuses to store an invalid id with E_SESSION_INVALID_ID", async () => {
    const file = join(dir, "session.json");
    const store = createSessionStore({ file });
    for (const bad of ["*", "../x/../y", "", "short"]) {
      const error = await store.set(bad).catch((e: unknown) => e);
      expect(SessionError.isInstance(error) && error.code, bad).toBe("E_SESSION_INVALID_ID");
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it("throws E_SESSION_STORE_WRITE with the cause when the file cannot be written", async () => {
    await writeFile(join(dir, "blocker"), "a file, not a directory");
    const store = createSessionStore({ file: join(dir, "blocker", "session.json") });
    const error = await store.set(ID).catch((e: unknown) => e);
    expect(SessionError.isInstance(error) && error.code).toBe("E_SESSION_STORE_WRITE");
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("blocker");
  });

  it("refuses a missing file option with E_SESSION_BAD_OPTIONS", () => {
    expect(() => createSessionStore({ file: "" })).toThrow(expect.objectContaining({ code: "E_SESSION_BAD_OPTIONS" }));
  });
});
