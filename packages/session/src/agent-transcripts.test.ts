import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findAgentTranscript, SessionError } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-transcripts-");
});
afterEach(() => removeDir(dir));

const REFUSED = ["latest", "--last", "1", "my-thread", "01a23ad4-5f72-7011-9d7a", "../etc/passwd", "", 42, null];

describe("codex: $CODEX_HOME/sessions/YYYY/MM/DD/rollout-*-<thread_id>.jsonl", () => {
  // A UUIDv7 thread id and its rollout, as Codex 0.169.0 wrote them (the day dir is the start date).
  const THREAD = "01a23ad4-5f72-7011-9d7a-61f74b15df5e";
  const ROLLOUT = `rollout-2026-12-03T07-35-26-${THREAD}.jsonl`;
  const META = `{"timestamp":"2026-12-03T07:35:26.322Z","ordinal":0,"type":"session_meta","payload":{"session_id":"${THREAD}","id":"${THREAD}","originator":"codex_exec","source":"exec"}}\n`;
  let codexHome: string;
  const find = (id: unknown) => findAgentTranscript(id, { agent: "codex", home: codexHome });
  const rollout = async (day: string, name = ROLLOUT, content = META) => {
    const dayDir = join(codexHome, "sessions", day);
    await mkdir(dayDir, { recursive: true });
    await writeFile(join(dayDir, name), content);
    return join(dayDir, name);
  };
  beforeEach(() => {
    codexHome = join(dir, "codex-home");
  });

  it("finds the rollout in the day its UUIDv7 names", async () => {
    const path = await rollout("2026/12/03");
    expect(await find(THREAD)).toEqual({ exists: true, reason: "found", path });
    expect(await find(THREAD.toUpperCase())).toMatchObject({ exists: true, path });
  });

  it("finds it in another day dir too (clock or time zone), and for a non-v7 UUID", async () => {
    const path = await rollout("2025/01/31");
    expect(await find(THREAD)).toEqual({ exists: true, reason: "found", path });
    const v4 = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";
    const other = await rollout("2026/11/30", `rollout-2026-11-30T10-00-00-${v4}.jsonl`);
    expect(await find(v4)).toEqual({ exists: true, reason: "found", path: other });
  });

  it("deleted, never written (--ephemeral) or another thread's → missing", async () => {
    expect(await find(THREAD)).toEqual({ exists: false, reason: "missing" });
    await rollout("2026/12/03", "rollout-2026-12-03T07-35-26-01a23ad5-2365-7080-91cd-cab4f018d19f.jsonl");
    await rollout("2026/12/03", `session-${THREAD}.jsonl`);
    expect(await find(THREAD)).toEqual({ exists: false, reason: "missing" });
    const path = await rollout("2026/12/03");
    await rm(path);
    expect(await find(THREAD)).toEqual({ exists: false, reason: "missing" });
  });

  it("an empty rollout is not resumable", async () => {
    const path = await rollout("2026/12/03", ROLLOUT, "");
    expect(await find(THREAD)).toEqual({ exists: false, reason: "empty-file", path });
  });

  it("refuses anything but a canonical UUID (latest, --last, names) without touching the disk", async () => {
    await rollout("2026/12/03");
    for (const id of REFUSED) expect(await find(id), String(id)).toEqual({ exists: false, reason: "invalid-id" });
  });
});

describe("gemini-cli: $GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/session-*-<id8>.jsonl", () => {
  // Shapes as Gemini CLI 0.61.0 wrote them.
  const ID = "3caaebfc-e1a5-437c-a58a-53b301919d88";
  const NAME = `session-2026-12-03T07-44-${ID.slice(0, 8)}.jsonl`;
  const head = (id: string) =>
    `${JSON.stringify({ sessionId: id, projectHash: "ab", startTime: "2026-12-03T07:44:00Z", lastUpdated: "2026-12-03T07:44:01Z", kind: "main" })}\n`;
  const USER = `${JSON.stringify({ id: "m1", timestamp: "t", type: "user", content: [{ text: "say hi" }] })}\n`;
  const REPLY = `${JSON.stringify({ id: "m2", timestamp: "t", type: "gemini", content: "Hello from fake-gemini", thoughts: [], model: "gemini-3.8-flash" })}\n`;
  let home: string;
  let cwd: string;
  const gemini = () => join(home, ".gemini");
  const find = (id: unknown, at = cwd) => findAgentTranscript(id, { agent: "gemini-cli", home, cwd: at });
  const project = async (slug: string, forCwd = cwd, registry = true) => {
    await mkdir(join(gemini(), "tmp", slug, "chats"), { recursive: true });
    await writeFile(join(gemini(), "tmp", slug, ".project_root"), forCwd);
    if (registry) await writeFile(join(gemini(), "projects.json"), JSON.stringify({ projects: { [forCwd]: slug } }));
  };
  const chat = async (slug: string, content: string, name = NAME) => {
    const path = join(gemini(), "tmp", slug, "chats", name);
    await writeFile(path, content);
    return path;
  };
  beforeEach(async () => {
    home = join(dir, "gemini-home");
    cwd = join(dir, "work", "w");
    await mkdir(cwd, { recursive: true });
  });

  it("finds the chat of the cwd's project that holds a model reply", async () => {
    await project("w");
    const path = await chat("w", `${head(ID)}{"$set":{"lastUpdated":"t"}}\n${USER}${REPLY}`);
    expect(await find(ID)).toEqual({ exists: true, reason: "found", path });
  });

  it("a chat with no model reply (a failed first turn) is empty-file: Gemini exits 42 on it", async () => {
    await project("w");
    const path = await chat("w", head(ID) + USER);
    expect(await find(ID)).toEqual({ exists: false, reason: "empty-file", path });
  });

  it("another session sharing the 8-character prefix is not this one", async () => {
    await project("w");
    await chat("w", head("3caaebfc-0000-4000-8000-000000000000") + USER + REPLY);
    expect(await find(ID)).toEqual({ exists: false, reason: "missing" });
  });

  it("deleted, or kept under another cwd's project → missing (resume is per cwd)", async () => {
    expect(await find(ID)).toEqual({ exists: false, reason: "missing" });
    const other = join(dir, "work", "other");
    await mkdir(other);
    await project("other", other);
    await chat("other", head(ID) + USER + REPLY);
    expect(await find(ID)).toEqual({ exists: false, reason: "missing" });
    expect(await find(ID, other)).toMatchObject({ exists: true });
  });

  it("finds the project by its .project_root when projects.json lacks it, and through a symlinked cwd", async () => {
    await project("w-1", cwd, false);
    const path = await chat("w-1", head(ID) + USER + REPLY);
    expect(await find(ID)).toEqual({ exists: true, reason: "found", path });
    const link = join(dir, "link");
    await symlink(cwd, link);
    expect(await find(ID, link)).toMatchObject({ exists: true, path });
  });

  it("refuses anything but a canonical UUID (latest, an index, names)", async () => {
    await project("w");
    await chat("w", head(ID) + USER + REPLY);
    for (const id of REFUSED) expect(await find(id), String(id)).toEqual({ exists: false, reason: "invalid-id" });
  });
});

describe("options", () => {
  it("rejects no home, an unknown agent, gemini-cli without a cwd", async () => {
    const codes = await Promise.all(
      [
        { agent: "codex", home: "" },
        { agent: "claude-code", home: dir },
        { agent: "gemini-cli", home: dir },
      ].map((options) =>
        findAgentTranscript("3caaebfc-e1a5-437c-a58a-53b301919d88", options as never).catch((e: unknown) =>
          SessionError.isInstance(e) ? e.code : e,
        ),
      ),
    );
    expect(codes).toEqual(["E_SESSION_BAD_OPTIONS", "E_SESSION_UNSUPPORTED_AGENT", "E_SESSION_BAD_OPTIONS"]);
  });
});
