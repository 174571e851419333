import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findExecutable } from "./find-executable.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "internal-find-"));
  await mkdir(join(dir, "a"));
  await mkdir(join(dir, "b"));
  await writeFile(join(dir, "a", "tool"), "#!/bin/sh\n");
  await writeFile(join(dir, "b", "tool"), "#!/bin/sh\n");
  await chmod(join(dir, "b", "tool"), 0o755);
  await mkdir(join(dir, "b", "adir"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("findExecutable", () => {
  it("looks a bare name up on PATH, skipping files that are not executable and empty entries", async () => {
    const PATH = ["", join(dir, "a"), join(dir, "b")].join(":");
    expect(await findExecutable("tool", { PATH })).toBe(join(dir, "b", "tool"));
    expect(await findExecutable("adir", { PATH })).toBeUndefined();
    expect(await findExecutable("absent", { PATH })).toBeUndefined();
    expect(await findExecutable("tool", {})).toBeUndefined();
  });

  it("takes a name with a slash as a path relative to cwd", async () => {
    expect(await findExecutable("b/tool", {}, dir)).toBe(join(dir, "b", "tool"));
    expect(await findExecutable("a/tool", {}, dir)).toBeUndefined();
    expect(await findExecutable(join(dir, "b", "tool"), {})).toBe(join(dir, "b", "tool"));
  });
});
