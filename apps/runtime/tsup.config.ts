import { moleculeBuild } from "../../tsup.base";

// `admin` is the `@molecule/runtime/admin` subpath: the admin socket's protocol (zod schemas and types).
// @molecule/internal is private: its code is inlined here, never a runtime dependency.
// The bin (`molecule-runtime`) is ESM only: nothing requires it, so no bin.cjs or bin types ship.
// The two builds run at once: the first cleans dist but keeps what the second writes.
export default [
  moleculeBuild({
    entry: { index: "src/index.ts", admin: "src/admin/index.ts" },
    noExternal: ["@molecule/internal"],
    clean: ["!bin.js"],
  }),
  moleculeBuild({
    entry: { bin: "src/bin.ts" },
    format: ["esm"],
    dts: false,
    clean: false,
    noExternal: ["@molecule/internal"],
  }),
];
