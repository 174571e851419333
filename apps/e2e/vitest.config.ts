import { moleculeProject } from "../../vitest.shared.ts";

// One daemon at a time: e2e files run one after another (each starts real processes and ports).
// Every file here is a `*.slow.test.ts`: `pnpm test:fast` skips them; `npm test` and
// `pnpm exec vitest run --project e2e` run them.
export default moleculeProject("e2e", { fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 });
