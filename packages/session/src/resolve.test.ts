import { mkdir, readdir, readFile, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeProjectDir, type ResolveResumeOptions, resolveResume, SessionError } from "./index.js";
import { DEFAULT_SEARCH_DIRS } from "./resolve.js";

const ID = "3f2b8c1e-9d4a-4e6b-8f00-1a2b3c4d5e6f";
const LINE = '{"type":"user","message":{"role":"user","content":"hi"}}\n';

let dir: string;
let claudeDir: string;
let cwd: string;
beforeEach(async () => {
  dir = await tempDir("molecule-session-");
  claudeDir = join(dir, "claude");
  cwd = join(dir, "work", "repo");
  await mkdir(cwd, { recursive: true });
});
afterEach(() => removeDir(dir));

function options(extra: Partial<ResolveResumeOptions> = {}): ResolveResumeOptions {
  return { agent: "claude-code", cwd, claudeDir, searchDirs: [], ...extra };
}

async function transcript(root: string, forCwd: string, id: string, content = LINE): Promise<string> {
  const projectDir = join(root, "projects", await encodeProjectDir(forCwd));
  await mkdir(projectDir, { recursive: true });
  const file = join(projectDir, `${id}.jsonl`);
  await writeFile(file, content);
  return file;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe("no id", () => {
  it("is `none` and touches no file", async () => {
    const sink = sinkLogger();
    const missingCwd = join(dir, "nope");
    for (const id of [undefined, null, ""]) {
      expect(await resolveResume(id, options({ cwd: missingCwd, logger: sink.logger }))).toEqual({
        resume: undefined,
        reason: "none",
      });
    }
    expect(await exists(claudeDir)).toBe(false);
    expect(await exists(missingCwd)).toBe(false);
    expect(sink.lines).toEqual([]);
  });
});

describe("invalid ids", () => {
  it("drops `*`, `?`, `/`, `..` and bad lengths as `invalid-id`, never as a glob", async () => {
    // A file that a glob built from `*` or `????????` would match:
    await transcript(claudeDir, cwd, "abcdefgh");
    for (const id of ["*", "????????", "../../etc/passwd", `${ID}/x`, "..", "abc", "a".repeat(65)]) {
      const sink = sinkLogger();
      expect(await resolveResume(id, options({ logger: sink.logger })), id).toEqual({
        resume: undefined,
        reason: "invalid-id",
      });
      expect(sink.lines).toHaveLength(1);
      expect(sink.lines[0]).toMatchObject({ level: "info", obj: { event: "session.dropped", reason: "invalid-id" } });
      expect(sink.lines[0]?.obj.sessionId).toBe(id);
    }
  });
});

describe("found", () => {
  it("resumes a non-empty transcript in the cwd's project dir", async () => {
    const file = await transcript(claudeDir, cwd, ID);
    const sink = sinkLogger();
    expect(await resolveResume(ID, options({ logger: sink.logger }))).toEqual({
      resume: ID,
      reason: "found",
      path: file,
    });
    expect(sink.lines.filter((l) => l.level !== "debug")).toEqual([]);
  });

  it("finds it through a symlinked cwd (the CLI uses the realpath)", async () => {
    const file = await transcript(claudeDir, cwd, ID);
    await symlink(join(dir, "work"), join(dir, "link"));
    expect(await resolveResume(ID, options({ cwd: join(dir, "link", "repo") }))).toEqual({
      resume: ID,
      reason: "found",
      path: file,
    });
  });
});

describe("which claude dir", () => {
  it("uses $HOME/.claude by default", async () => {
    const home = join(dir, "home");
    const file = await transcript(join(home, ".claude"), cwd, ID);
    const result = await resolveResume(ID, { agent: "claude-code", cwd, env: { HOME: home }, searchDirs: [] });
    expect(result).toEqual({ resume: ID, reason: "found", path: file });
  });

  it("prefers $CLAUDE_CONFIG_DIR over $HOME/.claude", async () => {
    const home = join(dir, "home");
    const config = join(dir, "config");
    await transcript(join(home, ".claude"), cwd, ID);
    const env = { HOME: home, CLAUDE_CONFIG_DIR: config };
    const result = await resolveResume(ID, { agent: "claude-code", cwd, env, searchDirs: [], relocate: false });
    expect(result.reason).toBe("missing");
    const file = await transcript(config, cwd, ID);
    expect(await resolveResume(ID, { agent: "claude-code", cwd, env, searchDirs: [] })).toEqual({
      resume: ID,
      reason: "found",
      path: file,
    });
  });

  it("prefers the claudeDir option over the env", async () => {
    const config = join(dir, "config");
    await transcript(config, cwd, ID);
    const result = await resolveResume(ID, options({ env: { CLAUDE_CONFIG_DIR: config }, relocate: false }));
    expect(result.reason).toBe("missing");
  });
});

describe("relocated", () => {
  it("copies a transcript from another project dir of the claude dir into the cwd's, atomically and 0600", async () => {
    const oldCwd = join(dir, "old-generation", "workspace");
    const source = await transcript(claudeDir, oldCwd, ID, LINE.repeat(3));
    const sink = sinkLogger();
    const result = await resolveResume(ID, options({ logger: sink.logger }));
    const target = join(claudeDir, "projects", await encodeProjectDir(cwd), `${ID}.jsonl`);
    expect(result).toEqual({ resume: ID, reason: "relocated", path: target });
    expect(await readFile(target, "utf8")).toBe(LINE.repeat(3));
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readFile(source, "utf8")).toBe(LINE.repeat(3)); // the source stays
    expect(await readdir(join(claudeDir, "projects", await encodeProjectDir(cwd)))).toEqual([`${ID}.jsonl`]);
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatchObject({
      level: "info",
      obj: { event: "session.relocated", sessionId: ID, from: source, to: target },
    });
    // A second call now finds it in place.
    expect((await resolveResume(ID, options())).reason).toBe("found");
  });

  it("by default looks only in the daemon user's own claude dir, never another user's", async () => {
    expect(DEFAULT_SEARCH_DIRS).toEqual([]); // was ["/root/.claude", "/home/agent/.claude"]
    const otherUser = join(dir, "other-user", ".claude");
    const theirs = await transcript(otherUser, join(dir, "their-project"), ID);
    const { searchDirs: _default, ...rest } = options();
    expect(await resolveResume(ID, rest)).toMatchObject({ resume: undefined, reason: "missing" });
    expect(await readFile(theirs, "utf8")).toBe(LINE);
  });

  it("copies from a search dir (another claude dir)", async () => {
    const other = join(dir, "root-claude");
    await transcript(other, join(dir, "elsewhere"), ID);
    const result = await resolveResume(ID, options({ searchDirs: [other] }));
    expect(result.reason).toBe("relocated");
    expect(result.path?.startsWith(join(claudeDir, "projects"))).toBe(true);
    expect(await readFile(result.path ?? "", "utf8")).toBe(LINE);
  });

  it("takes the newest copy when several generations left one", async () => {
    const older = await transcript(claudeDir, join(dir, "gen1"), ID, "old\n");
    await transcript(claudeDir, join(dir, "gen2"), ID, "new\n");
    await utimes(older, new Date(Date.now() + 60_000), new Date(Date.now() - 3_600_000));
    const result = await resolveResume(ID, options());
    expect(await readFile(result.path ?? "", "utf8")).toBe("new\n");
  });

  it("replaces a 0-byte file in the cwd's dir with a non-empty copy found elsewhere", async () => {
    await transcript(claudeDir, cwd, ID, "");
    await transcript(claudeDir, join(dir, "old"), ID);
    const result = await resolveResume(ID, options());
    expect(result.reason).toBe("relocated");
    expect(await readFile(result.path ?? "", "utf8")).toBe(LINE);
  });

  it("without relocate, drops it as `missing` and copies nothing", async () => {
    await transcript(claudeDir, join(dir, "old"), ID);
    const sink = sinkLogger();
    const result = await resolveResume(ID, options({ relocate: false, logger: sink.logger }));
    expect(result).toEqual({ resume: undefined, reason: "missing" });
    expect(await exists(join(claudeDir, "projects", await encodeProjectDir(cwd)))).toBe(false);
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatchObject({
      level: "info",
      obj: { event: "session.dropped", sessionId: ID, reason: "missing" },
    });
  });

  it("drops it as `missing` with a WARN when the copy cannot be made", async () => {
    await transcript(claudeDir, join(dir, "old"), ID);
    // A plain file where the cwd's project dir should be: the copy must fail.
    await mkdir(join(claudeDir, "projects"), { recursive: true });
    await writeFile(join(claudeDir, "projects", await encodeProjectDir(cwd)), "not a dir");
    const sink = sinkLogger();
    const result = await resolveResume(ID, options({ logger: sink.logger }));
    expect(result).toEqual({ resume: undefined, reason: "missing" });
    expect(sink.events()).toEqual(["session.relocate_failed", "session.dropped"]);
    expect(sink.lines[0]?.level).toBe("warn");
  });
});

describe("dropped", () => {
  it("a 0-byte transcript is `empty-file`, logged at INFO with id and reason", async () => {
    const file = await transcript(claudeDir, cwd, ID, "");
    const sink = sinkLogger();
    expect(await resolveResume(ID, options({ logger: sink.logger }))).toEqual({
      resume: undefined,
      reason: "empty-file",
      path: file,
    });
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatchObject({
      level: "info",
      obj: { event: "session.dropped", sessionId: ID, reason: "empty-file" },
    });
    expect(sink.lines[0]?.msg).toContain(ID);
  });

  it("a 0-byte transcript only under another project dir is `empty-file` too", async () => {
    await transcript(claudeDir, join(dir, "old"), ID, "");
    expect((await resolveResume(ID, options())).reason).toBe("empty-file");
  });

  it("nothing anywhere is `missing`, logged at INFO with id and reason", async () => {
    await transcript(claudeDir, cwd, "another-session-1234");
    const sink = sinkLogger();
    expect(await resolveResume(ID, options({ logger: sink.logger, searchDirs: [join(dir, "absent")] }))).toEqual({
      resume: undefined,
      reason: "missing",
    });
    expect(sink.lines).toHaveLength(1);
    expect(sink.lines[0]).toMatchObject({
      level: "info",
      obj: { event: "session.dropped", sessionId: ID, reason: "missing" },
    });
    expect(sink.lines[0]?.msg).toMatch(new RegExp(`${ID}.*missing`));
  });

  it("a directory named <id>.jsonl is not a transcript", async () => {
    await mkdir(join(claudeDir, "projects", await encodeProjectDir(cwd), `${ID}.jsonl`), { recursive: true });
    expect((await resolveResume(ID, options())).reason).toBe("missing");
  });
});

describe("bad options", () => {
  it("refuses an unknown agent, a missing cwd, and codex or gemini-cli without a home", async () => {
    const agent = await resolveResume(ID, { ...options(), agent: "aider" as "claude-code" }).catch((e: unknown) => e);
    expect(SessionError.isInstance(agent) && agent.code).toBe("E_SESSION_UNSUPPORTED_AGENT");
    for (const other of ["codex", "gemini-cli"] as const) {
      const noHome = await resolveResume(ID, { ...options(), agent: other }).catch((e: unknown) => e);
      expect(SessionError.isInstance(noHome) && noHome.code).toBe("E_SESSION_BAD_OPTIONS");
    }
    const noCwd = await resolveResume(ID, { ...options(), cwd: "" }).catch((e: unknown) => e);
    expect(SessionError.isInstance(noCwd) && noCwd.code).toBe("E_SESSION_BAD_OPTIONS");
  });
});

describe("codex and gemini-cli: the transcript must be where the agent keeps it", () => {
  // A UUIDv7 thread id (Codex's); its rollout is dated by the id's timestamp.
  const THREAD = "019aa3c7-799f-7ef1-ae76-42ca9ad87d58";

  it("resumes a Codex thread whose rollout exists, drops one whose rollout is gone (logged)", async () => {
    const home = join(dir, "codex-home");
    const day = join(home, "sessions", "2025", "11", "21");
    await mkdir(day, { recursive: true });
    const rollout = join(day, `rollout-2025-11-21T10-00-00-${THREAD}.jsonl`);
    await writeFile(rollout, '{"type":"session_meta"}\n');
    const found = await resolveResume(THREAD, { agent: "codex", cwd, home });
    expect(found).toEqual({ resume: THREAD, reason: "found", path: rollout });

    const sink = sinkLogger();
    const missing = await resolveResume(ID, { agent: "codex", cwd, home, logger: sink.logger });
    expect(missing).toEqual({ resume: undefined, reason: "missing" });
    expect(sink.lines.some((l) => l.obj.event === "session.dropped" && l.obj.reason === "missing")).toBe(true);
  });

  it("never resumes a non-UUID id (a name or `latest` would silently start a new conversation)", async () => {
    for (const id of ["latest", "my-thread-name"]) {
      const got = await resolveResume(id, { agent: "gemini-cli", cwd, home: join(dir, "gemini-home") });
      expect(got).toEqual({ resume: undefined, reason: "invalid-id" });
    }
  });
});
