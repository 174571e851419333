import { moleculeBuild } from "../../tsup.base";

// An application, not a library: one ESM entry with its shebang, no declarations.
export default moleculeBuild({ entry: ["src/bin.ts"], format: ["esm"], dts: false });
