import { moleculeBuild } from "../../tsup.base";

export default moleculeBuild({ entry: ["src/index.ts", "src/test.ts"] });
