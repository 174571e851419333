import { moleculeProject } from "../../vitest.shared.ts";

// One daemon at a time: e2e files run one after another (each starts real processes and ports).
export default moleculeProject("e2e", { fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 });
