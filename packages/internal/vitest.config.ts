import { moleculeProject } from "../../vitest.shared.ts";

// `*.test-d.ts` files are type-level tests: vitest runs tsc on them, so a drift fails `vitest run`.
export default moleculeProject("internal", {
  typecheck: { enabled: true, include: ["src/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
});
