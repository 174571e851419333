import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createContextSessionStore, planResume, recordTurn, SessionError } from "./index.js";

const ID_A = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";
const ID_B = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
const ID_C = "11111111-2222-4333-8444-555555555555";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-contexts-");
});
afterEach(() => removeDir(dir));

describe("createContextSessionStore", () => {
  it("keeps one session id per context, across instances (a daemon restart)", async () => {
    const file = join(dir, "state", "contexts.json");
    const store = createContextSessionStore({ file });
    await store.forContext("A").set(ID_A);
    await store.forContext("B").set(ID_B);
    expect(await store.forContext("A").get()).toBe(ID_A);
    expect(await store.forContext("nope").get()).toBeUndefined();

    const again = createContextSessionStore({ file });
    expect(await again.forContext("A").get()).toBe(ID_A);
    expect(await again.forContext("B").get()).toBe(ID_B);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, "state"))).toEqual(["contexts.json"]); // no temp file left
  });

  it("forgets the least recently used contexts beyond maxContexts; a read counts as a use, also after a restart", async () => {
    const file = join(dir, "contexts.json");
    const sink = sinkLogger();
    const store = createContextSessionStore({ file, maxContexts: 2, logger: sink.logger });
    await store.forContext("A").set(ID_A);
    await store.forContext("B").set(ID_B);
    expect(await store.forContext("A").get()).toBe(ID_A); // A is now the most recent
    expect(await createContextSessionStore({ file }).contexts()).toEqual(["B", "A"]); // the order was written

    await createContextSessionStore({ file, maxContexts: 2 }).forContext("C").set(ID_C);
    const reloaded = createContextSessionStore({ file, maxContexts: 2 });
    expect(await reloaded.contexts()).toEqual(["A", "C"]);
    expect(await reloaded.forContext("B").get()).toBeUndefined();
    await store.forContext("C").set(ID_C);
    expect(
      sink.lines.some(
        (l) => l.obj.event === "session.context_forgotten" && (l.obj as { contextId?: string }).contextId === "B",
      ),
    ).toBe(true);
  });

  it("clear forgets one context only", async () => {
    const store = createContextSessionStore({ file: join(dir, "contexts.json") });
    await store.forContext("A").set(ID_A);
    await store.forContext("B").set(ID_B);
    await store.forContext("A").clear();
    await store.forContext("never").clear(); // a no-op
    expect(await store.contexts()).toEqual(["B"]);
  });

  it("concurrent writes of different contexts all land (writes run one after another)", async () => {
    const file = join(dir, "contexts.json");
    const store = createContextSessionStore({ file });
    const ids = [ID_A, ID_B, ID_C];
    await Promise.all(ids.map((id, i) => store.forContext(`ctx-${i}`).set(id)));
    const stored = JSON.parse(await readFile(file, "utf8")) as { contexts: Array<{ contextId: string }> };
    expect(stored.contexts.map((c) => c.contextId).sort()).toEqual(["ctx-0", "ctx-1", "ctx-2"]);
  });

  it("a corrupt file reads as empty with one WARN; the next set rewrites it", async () => {
    const file = join(dir, "contexts.json");
    await writeFile(file, "{not json");
    const sink = sinkLogger();
    const store = createContextSessionStore({ file, logger: sink.logger });
    expect(await store.forContext("A").get()).toBeUndefined();
    expect(await store.forContext("B").get()).toBeUndefined();
    expect(sink.events().filter((e) => e === "session.store_corrupt")).toHaveLength(1);
    await store.forContext("A").set(ID_A);
    expect(await createContextSessionStore({ file }).forContext("A").get()).toBe(ID_A);
  });

  it("refuses bad options, bad context ids and bad session ids with coded errors", async () => {
    expect(() => createContextSessionStore({ file: "" })).toThrow(SessionError);
    expect(() => createContextSessionStore({ file: join(dir, "x"), maxContexts: 0 })).toThrow(/maxContexts/);
    const store = createContextSessionStore({ file: join(dir, "contexts.json") });
    expect(() => store.forContext("")).toThrow(expect.objectContaining({ code: "E_SESSION_BAD_OPTIONS" }));
    expect(() => store.forContext("x".repeat(257))).toThrow(/at most 256/);
    await expect(store.forContext("A").set("../../etc/passwd")).rejects.toMatchObject({
      code: "E_SESSION_INVALID_ID",
    });
  });

  it("a write that fails is E_SESSION_STORE_WRITE", async () => {
    const blocker = join(dir, "file-not-dir");
    await writeFile(blocker, "");
    const store = createContextSessionStore({ file: join(blocker, "contexts.json") });
    await expect(store.forContext("A").set(ID_A)).rejects.toMatchObject({ code: "E_SESSION_STORE_WRITE" });
  });

  it("works with planResume / recordTurn: each context resumes its own session", async () => {
    const home = join(dir, "home");
    const cwd = join(dir, "work");
    await mkdir(cwd, { recursive: true });
    const store = createContextSessionStore({ file: join(dir, "contexts.json") });
    await recordTurn(store.forContext("A"), { sessionId: ID_A, result: "ok" });
    await recordTurn(store.forContext("B"), { sessionId: ID_B, result: "ok" });
    // Only A has a transcript: B's id is stale and dropped, A's is resumed.
    const { encodeProjectDir } = await import("./index.js");
    const project = join(home, ".claude", "projects", await encodeProjectDir(cwd));
    await mkdir(project, { recursive: true });
    await writeFile(join(project, `${ID_A}.jsonl`), '{"type":"user"}\n');
    const options = { agent: "claude-code" as const, cwd, env: { HOME: home }, searchDirs: [] };
    expect(await planResume(store.forContext("A"), options)).toEqual({ resume: ID_A, reason: "found" });
    expect(await planResume(store.forContext("B"), options)).toEqual({ resume: undefined, reason: "missing" });
    expect(await store.contexts()).toEqual(["A"]);
  });
});
