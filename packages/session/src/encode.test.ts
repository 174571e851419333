import { mkdir, symlink } from "node:fs/promises";
import { join, relative } from "node:path";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeResolvedPath } from "./encode.js";
import { encodeProjectDir, SessionError } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("molecule-session-");
});
afterEach(() => removeDir(dir));

describe("encodeResolvedPath (the CLI's rule)", () => {
  it("replaces every character outside [A-Za-z0-9] with -", () => {
    expect(encodeResolvedPath("/home/agent/My.Proj_v2 final")).toBe("-home-agent-My-Proj-v2-final");
  });

  it("uses one - per UTF-16 unit: two for an astral character", () => {
    expect(encodeResolvedPath("/w/é")).toBe("-w--");
    expect(encodeResolvedPath("/w/😀")).toBe("-w---");
    expect(encodeResolvedPath("/w/日本")).toBe("-w---");
  });

  it("keeps a 200-character result as it is", () => {
    const path = `/${"a".repeat(199)}`;
    expect(encodeResolvedPath(path)).toBe(`-${"a".repeat(199)}`);
  });

  it("cuts a longer one to 200 and appends - and base-36 of the path's hash (value taken from the real CLI)", () => {
    // The real CLI 2.1.197 created `-tmp-tmp-8paM03cZ8r-aaa…a-yt1tzj` for this cwd.
    const path = `/tmp/tmp.8paM03cZ8r/${"a".repeat(240)}/Ünï😀Dé`;
    const encoded = encodeResolvedPath(path);
    expect(encoded).toBe(`${"-tmp-tmp-8paM03cZ8r-".concat("a".repeat(240)).slice(0, 200)}-yt1tzj`);
  });

  it("hashes the unencoded path: two paths that encode alike get different suffixes", () => {
    const a = encodeResolvedPath(`/${"x".repeat(210)}.a`);
    const b = encodeResolvedPath(`/${"x".repeat(210)}_a`);
    expect(a.slice(0, 200)).toBe(b.slice(0, 200));
    expect(a).not.toBe(b);
    expect(a).toMatch(/^-x{199}-[0-9a-z]+$/);
  });
});

describe("encodeProjectDir", () => {
  it("encodes the realpath of an existing cwd", async () => {
    const cwd = join(dir, "my.project_dir");
    await mkdir(cwd);
    expect(await encodeProjectDir(cwd)).toBe(encodeResolvedPath(cwd));
    expect(await encodeProjectDir(cwd)).toMatch(/-my-project-dir$/);
  });

  it("follows a symlinked cwd to its target", async () => {
    await mkdir(join(dir, "real", "work"), { recursive: true });
    await symlink(join(dir, "real"), join(dir, "link"));
    expect(await encodeProjectDir(join(dir, "link", "work"))).toBe(encodeResolvedPath(join(dir, "real", "work")));
  });

  it("encodes a cwd that does not exist as given, after resolving the part that exists", async () => {
    await mkdir(join(dir, "real"));
    await symlink(join(dir, "real"), join(dir, "link"));
    expect(await encodeProjectDir(join(dir, "link", "not", "yet"))).toBe(
      encodeResolvedPath(join(dir, "real", "not", "yet")),
    );
  });

  it("resolves a relative cwd against the process cwd and normalises ..", async () => {
    await mkdir(join(dir, "a"));
    const rel = relative(process.cwd(), join(dir, "a", "..", "a"));
    expect(await encodeProjectDir(rel)).toBe(encodeResolvedPath(join(dir, "a")));
  });

  it("refuses an empty cwd with E_SESSION_BAD_OPTIONS", async () => {
    const error = await encodeProjectDir("").catch((e: unknown) => e);
    expect(SessionError.isInstance(error)).toBe(true);
    expect((error as SessionError).code).toBe("E_SESSION_BAD_OPTIONS");
  });
});
