// The README usage blocks of wedge, auth, session and preflight (src/readme/*.ts, byte for byte; see
// readme-blocks.test.ts) run as the release rehearsal runs them: TypeScript removed by
// ts.transpileModule, an ES module run by node, against the BUILT packages (`pnpm exec turbo run
// build` first), in an environment with nothing in it: an empty HOME, TMPDIR and PATH, and a platform
// URL where nothing listens. A failed assertion in a block exits non-zero, which fails its test.
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { removeDir, runProcess, tempDir } from "@molecule/test-support";
import ts from "typescript";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const EXAMPLES = ["wedge", "auth", "session", "preflight"] as const;

let dir: string;
beforeEach(async () => {
  dir = await tempDir("readme-usage-");
});
afterEach(async () => {
  await removeDir(dir);
});

/** Transpiles `code` beside a node_modules link to this package's, and runs it with node. */
async function runBlock(name: string, code: string) {
  const js = ts.transpileModule(code, {
    fileName: `${name}.ts`,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const run = join(dir, "run");
  const tmp = join(dir, "tmp");
  for (const sub of ["run", "tmp", "home", "bin", "configs", "state"]) await mkdir(join(dir, sub));
  await symlink(join(import.meta.dirname, "..", "node_modules"), join(run, "node_modules"));
  await writeFile(join(run, `${name}.mjs`), js);
  const result = await runProcess(process.execPath, [join(run, `${name}.mjs`)], {
    cwd: run,
    env: {
      HOME: join(dir, "home"),
      TMPDIR: tmp,
      PATH: join(dir, "bin"),
      WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
      PLATFORM_URL: "http://127.0.0.1:9",
      WORKSPACE_CONFIG_PATH: join(dir, "configs"),
      CONFIGS_DIR: join(dir, "configs"),
      MOLECULE_STATE_DIR: join(dir, "state"),
      NO_COLOR: "1",
    },
    timeoutMs: 60_000,
  });
  return { ...result, leftInTmp: await readdir(tmp) };
}

describe("README usage blocks run and their assertions hold", () => {
  it.each(EXAMPLES)("packages/%s/README.md (src/readme/%s.ts) exits 0 and cleans up its temp dir", async (name) => {
    const code = await readFile(join(import.meta.dirname, "readme", `${name}.ts`), "utf8");
    const result = await runBlock(name, code);
    expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    expect(result.signal).toBeNull();
    expect(result.leftInTmp, "the example removes the temp dir it made").toEqual([]);
  });

  it("a block whose assertion fails exits non-zero (the check above can fail)", async () => {
    const code = await readFile(join(import.meta.dirname, "readme", "wedge.ts"), "utf8");
    const broken = code.replace("assert.equal(isWedged(), true);", "assert.equal(isWedged(), false);");
    expect(broken).not.toBe(code);
    const result = await runBlock("wedge-broken", broken);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("AssertionError");
  });
});
