import { moleculeBuild } from "../../tsup.base";

// @molecule/internal is private: its code is inlined here, never a runtime dependency.
export default moleculeBuild({ noExternal: ["@molecule/internal"] });
