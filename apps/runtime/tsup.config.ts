import { moleculeBuild } from "../../tsup.base";

export default moleculeBuild({ entry: ["src/index.ts", "src/bin.ts"] });
