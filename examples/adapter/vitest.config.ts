import { moleculeProject } from "../../vitest.shared.ts";

// The adapters run against the BUILT packages (the workspace links resolve to each package's dist):
// run `pnpm exec turbo run build` first. One daemon at a time.
export default moleculeProject("examples", { fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 });
