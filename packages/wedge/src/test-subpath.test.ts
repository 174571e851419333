import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

// Runs in a child node inside the package folder, so `@molecule/wedge` resolves to the built
// package itself through its `exports` map (self-reference), exactly as a consumer's would.
function run(script: string, type: "module" | "commonjs"): string {
  const args = type === "module" ? ["--input-type=module", "-e", script] : ["-e", script];
  return execFileSync(process.execPath, args, { cwd: packageDir, encoding: "utf8" }).trim();
}

describe("@molecule/wedge/test", () => {
  it("is not on the main entry", () => {
    const out = run(`const w = await import("@molecule/wedge"); console.log(typeof w.resetWedgeForTests);`, "module");
    expect(out).toBe("undefined");
  });

  it("resets, from ESM, the flag the CJS main entry set", () => {
    const out = run(
      `import { createRequire } from "node:module";
       const require = createRequire(process.cwd() + "/");
       const cjs = require("@molecule/wedge");
       const { resetWedgeForTests } = await import("@molecule/wedge/test");
       cjs.markWedged("stuck");
       const before = cjs.isWedged();
       resetWedgeForTests();
       console.log(before, cjs.isWedged());`,
      "module",
    );
    expect(out).toBe("true false");
  });

  it("resets, from CJS, the flag the ESM main entry set", () => {
    const out = run(
      `const { resetWedgeForTests } = require("@molecule/wedge/test");
       import("@molecule/wedge").then((esm) => {
         esm.markWedged("stuck");
         const before = esm.isWedged();
         resetWedgeForTests();
         console.log(before, esm.isWedged());
       });`,
      "commonjs",
    );
    expect(out).toBe("true false");
  });
});
