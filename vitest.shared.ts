import { defineConfig, type ViteUserConfig } from "vitest/config";

type TestOptions = NonNullable<ViteUserConfig["test"]>;

/**
 * The vitest config every package and app re-uses: `export default moleculeProject("wedge")`.
 * It is the package's own config when its tests run alone, and one project of the root config.
 * Tests live beside the code (`src/**\/*.test.ts`); slow ones (real CLI, e2e) are named
 * `*.slow.test.ts` so `pnpm test:fast` can skip them — CI runs everything.
 * With MOLECULE_TEST_REPORT=1 (`npm test`) a JSON report goes to test-results.json for the summary line.
 */
export function moleculeProject(name: string, test: TestOptions = {}) {
  const writeReport = process.env.MOLECULE_TEST_REPORT === "1";
  return defineConfig({
    test: {
      name,
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: 20_000,
      hookTimeout: 20_000,
      ...(writeReport ? { reporters: ["default", ["json", { outputFile: "test-results.json" }]] } : {}),
      ...test,
    },
  });
}
