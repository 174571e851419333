// The real Claude Code CLI 2.1.197, offline and logged out, in an isolated HOME and cwd.
// A logged-out `claude -p hi` still writes a transcript, which is all these tests need.
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import {
  CLAUDE_BIN,
  OFFLINE_CLAUDE_ENV,
  type ProcessResult,
  removeDir,
  runProcess,
  tempDir,
} from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createSessionStore,
  encodeProjectDir,
  isMissingSessionError,
  planResume,
  resolveResume,
  sessionIdFromError,
} from "./index.js";

const RUN_TIMEOUT_MS = 60_000;

// Never skipped in CI; locally only when the binary is absent, and then visibly.
const skipReason =
  !existsSync(CLAUDE_BIN) && process.env.CI !== "true"
    ? `the real Claude Code CLI is not installed at ${CLAUDE_BIN} (run pnpm install at the repo root)`
    : undefined;
if (skipReason) console.warn(`[@molecule/session] skipping the real-CLI tests: ${skipReason}`);

/** Runs the real CLI with an isolated HOME and cwd, no credentials, no network extras; killed after 60 s. */
function claude(args: string[], { home, cwd }: { home: string; cwd: string }): Promise<ProcessResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    PWD: cwd, // as a shell would set it: for a symlinked cwd this is the link, not the realpath
    ...OFFLINE_CLAUDE_ENV,
  };
  return runProcess(CLAUDE_BIN, args, { cwd, env, killGroup: true, timeoutMs: RUN_TIMEOUT_MS });
}

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-session-cli-");
});
afterEach(() => removeDir(dir));

async function newHome(name: string): Promise<string> {
  const home = join(dir, "homes", name);
  await mkdir(home, { recursive: true });
  return home;
}

/** A logged-out turn in `cwd`; returns the project dirs the CLI created and the session id it wrote. */
async function loggedOutTurn(home: string, cwd: string): Promise<{ projectDirs: string[]; sessionId: string }> {
  const run = await claude(["-p", "hi"], { home, cwd });
  expect(run.code).toBe(1);
  expect(run.stdout).toContain("Not logged in");
  const projects = join(home, ".claude", "projects");
  const projectDirs = await readdir(projects);
  expect(projectDirs).toHaveLength(1);
  const transcripts = (await readdir(join(projects, projectDirs[0] ?? ""))).filter((f) => f.endsWith(".jsonl"));
  expect(transcripts).toHaveLength(1);
  return { projectDirs, sessionId: (transcripts[0] ?? "").replace(/\.jsonl$/, "") };
}

/** A directory whose absolute path is exactly `length` characters. */
async function pathOfLength(base: string, length: number): Promise<string> {
  let path = base;
  while (path.length < length) {
    const room = length - path.length - 1; // minus the "/"
    path = join(path, "L".repeat(Math.min(room, 60)));
  }
  await mkdir(path, { recursive: true });
  return path;
}

describe.skipIf(skipReason !== undefined)("against the real Claude Code CLI", { timeout: 120_000 }, () => {
  it("is version 2.1.197", async () => {
    const home = await newHome("version");
    const run = await claude(["--version"], { home, cwd: home });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe("2.1.197 (Claude Code)");
  });

  it("encodeProjectDir names the project dir exactly as the CLI does", { timeout: 300_000 }, async () => {
    const base = join(dir, "cwds");
    const cases: { name: string; cwd: string; pwd?: string }[] = [
      { name: "dots", cwd: join(base, "dots", ".hidden", "my.project.v2") },
      { name: "underscores", cwd: join(base, "snake_case_dir", "__x__") },
      { name: "spaces", cwd: join(base, "with some  spaces") },
      { name: "unicode", cwd: join(base, "Ünïcödé-日本語-😀") },
      { name: "mixed case", cwd: join(base, "MixedCase", "SubDIR") },
    ];
    for (const c of cases) await mkdir(c.cwd, { recursive: true });
    await mkdir(join(base, "real-target", "inner"), { recursive: true });
    await symlink(join(base, "real-target"), join(base, "link"));
    cases.push({ name: "symlinked cwd", cwd: join(base, "link", "inner") });
    const long = await pathOfLength(join(base, "long"), 250);
    expect(long).toHaveLength(250);
    cases.push({ name: "250-character path", cwd: long });

    // Two at a time: the machine is shared.
    const results: { name: string; cwd: string; created: string[] }[] = [];
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      results.push(
        ...(await Promise.all(
          batch.map(async (c, j) => {
            const home = await newHome(`encode-${i + j}`);
            const { projectDirs } = await loggedOutTurn(home, c.cwd);
            return { name: c.name, cwd: c.cwd, created: projectDirs };
          }),
        )),
      );
    }
    for (const r of results) expect([r.name, await encodeProjectDir(r.cwd)]).toEqual([r.name, r.created[0]]);

    const symlinked = results.find((r) => r.name === "symlinked cwd");
    expect(symlinked?.created[0]).toMatch(/-real-target-inner$/); // the realpath, not the link
    const longResult = results.find((r) => r.name === "250-character path");
    expect(longResult?.created[0]).toMatch(/^.{200}-[0-9a-z]+$/); // cut to 200 + hash suffix
    const unicode = results.find((r) => r.name === "unicode");
    expect(unicode?.created[0]).toMatch(/-cwds--n-c-d-{8}$/); // one "-" per UTF-16 unit: é, "-", 日本語, "-", 😀 (2 units)
  });

  it("resolveResume finds the real transcript, then reports `missing` once it is deleted; the CLI's error is recognised", async () => {
    const home = await newHome("found");
    const cwd = join(dir, "work", "my.repo");
    await mkdir(cwd, { recursive: true });
    const { projectDirs, sessionId } = await loggedOutTurn(home, cwd);
    const transcript = join(home, ".claude", "projects", projectDirs[0] ?? "", `${sessionId}.jsonl`);
    const options = { agent: "claude-code", cwd, env: { HOME: home }, searchDirs: [] } as const;

    expect(await resolveResume(sessionId, options)).toEqual({ resume: sessionId, reason: "found", path: transcript });

    await rm(transcript);
    expect(await resolveResume(sessionId, options)).toEqual({ resume: undefined, reason: "missing" });

    const resumed = await claude(["-p", "--resume", sessionId, "hi"], { home, cwd });
    expect(resumed.code).toBe(1);
    expect(resumed.stdout).toBe("");
    expect(isMissingSessionError(resumed.stderr)).toBe(true);
    expect(sessionIdFromError(resumed.stderr)).toBe(sessionId);
  });

  it("after `relocated` the CLI resumes the session (it gets as far as Not logged in)", async () => {
    const home = await newHome("relocate");
    const oldCwd = join(dir, "generation-1", "workspace");
    const newCwd = join(dir, "generation-2", "workspace");
    await mkdir(oldCwd, { recursive: true });
    await mkdir(newCwd, { recursive: true });
    const { sessionId } = await loggedOutTurn(home, oldCwd);

    // Before: the CLI does not look under another cwd's project dir.
    const before = await claude(["-p", "--resume", sessionId, "hi"], { home, cwd: newCwd });
    expect(isMissingSessionError(before.stderr)).toBe(true);

    const result = await resolveResume(sessionId, {
      agent: "claude-code",
      cwd: newCwd,
      env: { HOME: home },
      searchDirs: [],
    });
    expect(result.reason).toBe("relocated");
    expect(result.resume).toBe(sessionId);
    expect(result.path).toBe(join(home, ".claude", "projects", await encodeProjectDir(newCwd), `${sessionId}.jsonl`));

    const after = await claude(["-p", "--resume", sessionId, "hi"], { home, cwd: newCwd });
    expect(isMissingSessionError(after.stderr)).toBe(false);
    expect(after.stdout).toContain("Not logged in");
  });

  it("planResume relocates from a search dir (the previous container's claude dir) and the CLI resumes", async () => {
    const oldHome = await newHome("old-container");
    const newHomeDir = await newHome("new-container");
    const oldCwd = join(dir, "old", "workspace");
    const newCwd = join(dir, "new", "workspace");
    await mkdir(oldCwd, { recursive: true });
    await mkdir(newCwd, { recursive: true });
    const { sessionId } = await loggedOutTurn(oldHome, oldCwd);
    const store = createSessionStore({ file: join(dir, "state", "session.json") });
    await store.set(sessionId);

    const plan = await planResume(store, {
      agent: "claude-code",
      cwd: newCwd,
      env: { HOME: newHomeDir },
      searchDirs: [join(oldHome, ".claude")],
    });
    expect(plan).toEqual({ resume: sessionId, reason: "relocated" });
    expect(await store.get()).toBe(sessionId);
    const copied = join(newHomeDir, ".claude", "projects", await encodeProjectDir(newCwd), `${sessionId}.jsonl`);
    expect((await stat(copied)).size).toBeGreaterThan(0);

    const after = await claude(["-p", "--resume", sessionId, "hi"], { home: newHomeDir, cwd: newCwd });
    expect(isMissingSessionError(after.stderr)).toBe(false);
    expect(after.stdout).toContain("Not logged in");
  });
});
