import { defineConfig, type Options } from "tsup";

/**
 * The one build config every package re-uses:
 * `export default moleculeBuild()` in its own tsup.config.ts.
 * ESM first (`index.js`), CJS beside it (`index.cjs`), `.d.ts` + `.d.cts`, sourcemaps.
 */
export function moleculeBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    target: "node20",
    platform: "node",
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}
