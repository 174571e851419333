// House rules that every later change must keep (CONTRIBUTING.md): files that do one thing, and
// one agent registry.
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./index.ts";

const MAX_LINES = 400;

/** Non-test source files under packages/*\/src and apps/*\/src (apps/e2e and test helpers aside). */
async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/\.(ts|mts|cts)$/.test(entry.name)) files.push(relative(REPO_ROOT, path));
    }
  };
  for (const group of ["packages", "apps"]) {
    for (const pkg of await readdir(join(REPO_ROOT, group), { withFileTypes: true })) {
      if (!pkg.isDirectory() || `${group}/${pkg.name}` === "apps/e2e" || pkg.name === "test-support") continue;
      const src = join(REPO_ROOT, group, pkg.name, "src");
      await walk(src).catch(() => undefined);
    }
  }
  return files.filter((f) => !/\.test(-d)?\.ts$/.test(f) && !/(^|\/)(test-support|testing|test-util)\.ts$/.test(f));
}

describe("repository rules", () => {
  it(`no non-test source file is over ${MAX_LINES} lines (split it at its seams)`, async () => {
    const files = await sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const long: string[] = [];
    for (const file of files) {
      const lines = (await readFile(join(REPO_ROOT, file), "utf8")).split("\n").length - 1;
      if (lines > MAX_LINES) long.push(`${file}: ${lines} lines`);
    }
    expect(long).toEqual([]);
  });

  it("agent ids are written in one non-test source file only: the registry (packages/auth/src/agents.ts)", async () => {
    const files = await sourceFiles();
    const holders: string[] = [];
    for (const file of files) {
      const text = await readFile(join(REPO_ROOT, file), "utf8");
      if (/"codex"|"gemini/.test(text)) holders.push(file);
    }
    expect(holders).toEqual(["packages/auth/src/agents.ts"]);
  });
});
