import { moleculeBuild } from "../../tsup.base";

// `admin` is the `@molecule/runtime/admin` subpath: the admin socket's protocol (zod schemas and types).
// @molecule/internal is private: its code is inlined here, never a runtime dependency.
export default moleculeBuild({
  entry: { index: "src/index.ts", bin: "src/bin.ts", admin: "src/admin/index.ts" },
  noExternal: ["@molecule/internal"],
});
