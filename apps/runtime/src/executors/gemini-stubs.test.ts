import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeResumeStubs } from "./gemini-cli.js";

// Shaped like Gemini CLI 0.61.0's files after a resume in a later minute (measured with the real CLI).
const ID = "8593c220-ded9-4c5b-86dc-128f1d3f3fc8";
const HEAD = `{"sessionId":"${ID}","projectHash":"47a5","startTime":"2026-12-03T15:36:27.939Z","kind":"main"}\n`;
const CONTEXT = '{"$set":{"messages":[{"id":"d049","type":"user","content":[{"text":"<session_context>"}]}]}}\n';
const TURNS = `${HEAD}${CONTEXT}{"id":"u1","type":"user","content":[{"text":"Turn one"}]}\n{"id":"g1","type":"gemini","content":"hi"}\n`;

let dir: string;
let chats: string;
beforeEach(async () => {
  dir = await tempDir("molecule-gemini-stubs-");
  chats = join(dir, ".gemini", "tmp", "work", "chats");
  await mkdir(chats, { recursive: true });
});
afterEach(() => removeDir(dir));

describe("removeResumeStubs", () => {
  it("removes the header-only file a later-minute resume leaves, keeps the conversation and other sessions", async () => {
    await writeFile(join(chats, "session-2026-12-03T15-36-8593c220.jsonl"), TURNS);
    await writeFile(join(chats, "session-2026-12-03T15-37-8593c220.jsonl"), `${HEAD}${CONTEXT}`);
    const other = `{"sessionId":"11111111-2222-4333-8444-555555555555"}\n${CONTEXT}`;
    await writeFile(join(chats, "session-2026-12-03T15-37-11111111.jsonl"), other);
    await removeResumeStubs(join(dir, ".gemini"), ID);
    expect((await readdir(chats)).sort()).toEqual([
      "session-2026-12-03T15-36-8593c220.jsonl",
      "session-2026-12-03T15-37-11111111.jsonl",
    ]);
  });

  it("never removes a session's only file, even one without a reply yet", async () => {
    await writeFile(join(chats, "session-2026-12-03T15-37-8593c220.jsonl"), `${HEAD}${CONTEXT}`);
    await removeResumeStubs(join(dir, ".gemini"), ID);
    expect(await readdir(chats)).toEqual(["session-2026-12-03T15-37-8593c220.jsonl"]);
  });
});
