import { defineConfig, type Options } from "tsup";

/**
 * The one build config every package re-uses:
 * `export default moleculeBuild()` in its own tsup.config.ts.
 * ESM first (`index.js`), CJS beside it (`index.cjs`), `.d.ts` + `.d.cts`.
 *
 * No source maps: they were 60–69 % of every package (they embed the sources), while the code they
 * map is already readable — not minified, one file per entry point, names kept — so a stack trace
 * points at code a user can read as it is. The TypeScript sources are in the repository at the
 * release's tag.
 */
export function moleculeBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: false,
    clean: true,
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}
