// The repository explains itself: no tracked file points at a document that lives outside it (the
// map is docs/ARCHITECTURE.md, the wire contract docs/CONTRACT.md).
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./index.ts";

// Notes kept beside the checkout, never shipped with it. Spelled in pieces so this file does not match itself.
const OUTSIDE = [`DESIGN${".md"}`, `STYLE${".md"}`, `MACHINE${"-FACTS"}`, `A2A${"-NEXT"}`, `..${"/shared"}`];

describe("repository rules", () => {
  it("no tracked file refers to a document outside the repository", async () => {
    const files = execFileSync("git", ["ls-files", "-z"], { cwd: REPO_ROOT, encoding: "utf8" })
      .split("\0")
      .filter((file) => file !== "" && !/\.(png|jpe?g|gif|ico|woff2?|gz|tgz)$/.test(file));
    expect(files.length).toBeGreaterThan(100);
    const hits: string[] = [];
    for (const file of files) {
      const text = await readFile(join(REPO_ROOT, file), "utf8").catch(() => "");
      for (const needle of OUTSIDE) {
        if (text.includes(needle)) hits.push(`${file}: ${needle}`);
      }
    }
    expect(hits, "cite docs/ARCHITECTURE.md or docs/CONTRACT.md instead").toEqual([]);
  });
});
