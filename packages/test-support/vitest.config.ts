import { moleculeProject } from "../../vitest.shared.ts";

export default moleculeProject("test-support");
