import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createConversations } from "./contexts.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-conversations-");
});
afterEach(() => removeDir(dir));

const SESSION = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";

describe("createConversations", () => {
  it("persists one default context id (0600) and keeps it across restarts", async () => {
    const sink = sinkLogger();
    const first = await createConversations({ stateDir: dir, maxContexts: 4, log: sink.logger }).defaultId();
    const file = join(dir, "default-context.json");
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ version: 1, contextId: first });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await createConversations({ stateDir: dir, maxContexts: 4, log: sink.logger }).defaultId()).toBe(first);
    expect(sink.lines).toEqual([]);
  });

  it("a corrupt default-context file: a new default context and one WARN", async () => {
    await writeFile(join(dir, "default-context.json"), "{nope");
    const sink = sinkLogger();
    const id = await createConversations({ stateDir: dir, maxContexts: 4, log: sink.logger }).defaultId();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(sink.events()).toEqual(["a2a.default_context_corrupt"]);
  });

  it("the default context uses the executor's own store; every other context its own, kept in contexts.json", async () => {
    const sink = sinkLogger();
    const conversations = createConversations({ stateDir: dir, maxContexts: 4, log: sink.logger });
    const defaultId = await conversations.defaultId();
    expect(conversations.sessionFor(defaultId, defaultId)).toBeUndefined();
    await conversations.sessionFor("mine", defaultId)?.set(SESSION);
    expect(JSON.parse(await readFile(join(dir, "contexts.json"), "utf8"))).toEqual({
      version: 1,
      contexts: [{ contextId: "mine", sessionId: SESSION }],
    });
    const again = createConversations({ stateDir: dir, maxContexts: 4, log: sink.logger });
    expect(await again.sessionFor("mine", defaultId)?.get()).toBe(SESSION);
  });
});
