import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// `pnpm api:check` on a scratch tree with one published package: the committed report must
// follow every added or removed export, or the check fails and says how to fix it.
const script = resolve(dirname(fileURLToPath(import.meta.url)), "../../../scripts/api-report.mjs");

let root: string;
const dts = () => join(root, "packages", "demo", "dist", "index.d.ts");

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "molecule-api-report-"));
  const pkg = join(root, "packages", "demo");
  await mkdir(join(pkg, "dist"), { recursive: true });
  await writeFile(
    join(pkg, "package.json"),
    JSON.stringify({
      name: "@molecule/demo",
      version: "0.0.0",
      exports: { ".": { import: { types: "./dist/index.d.ts", default: "./dist/index.js" } } },
    }),
  );
  await writeFile(dts(), "export declare function hello(name: string): string;\n");
  execFileSync(process.execPath, [script, "update", "--root", root], { encoding: "utf8" });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const check = () => spawnSync(process.execPath, [script, "check", "--root", root], { encoding: "utf8" });

describe("pnpm api:check", () => {
  it("passes when the built API matches the committed report", async () => {
    const report = await readFile(join(root, "packages", "demo", "api", "demo.api.md"), "utf8");
    expect(report).toContain("export function hello(name: string): string;");
    const result = check();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("every report matches");
  });

  it("fails on an added export, naming the report and the fix", async () => {
    await writeFile(dts(), "export declare function hello(name: string): string;\nexport declare const extra = 1;\n");
    const result = check();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("packages/demo/api/demo.api.md");
    expect(result.stderr).toContain("pnpm api:update");
  });

  it("fails on a removed export", async () => {
    await writeFile(dts(), "export {};\n");
    expect(check().status).toBe(1);
  });

  it("fails on a changed signature", async () => {
    await writeFile(dts(), "export declare function hello(name: string, loud: boolean): string;\n");
    expect(check().status).toBe(1);
  });

  it("fails on a public type that names an unexported one (ae-forgotten-export), saying how to fix it", async () => {
    // `(typeof LIST)[number]` would render as that text: adding an item to LIST would leave the report unchanged.
    await writeFile(
      dts(),
      'declare const LIST: readonly ["a", "b"];\ntype Item = (typeof LIST)[number];\nexport { type Item };\n',
    );
    for (const mode of ["check", "update"]) {
      const result = spawnSync(process.execPath, [script, mode, "--root", root], { encoding: "utf8" });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('"LIST" needs to be exported');
      expect(result.stderr).toContain("spell the type out");
    }
  });

  it("leaves the ae-undocumented warning list out of the report", async () => {
    const report = await readFile(join(root, "packages", "demo", "api", "demo.api.md"), "utf8");
    expect(report).not.toContain("ae-undocumented");
    expect(report).not.toContain("Warnings were encountered");
  });
});
