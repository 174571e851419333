import { moleculeBuild } from "../../tsup.base";

// An application, not a library: ESM with its shebang, no declarations. Every dependency is bundled
// (a cold `molecule preflight` spends most of its time resolving and loading modules otherwise),
// split so that `molecule --help` does not load the preflight code. `require` is provided for the
// CommonJS dependencies (commander) inside the ESM bundle.
export default moleculeBuild({
  entry: ["src/bin.ts"],
  format: ["esm"],
  dts: false,
  noExternal: [/.*/],
  splitting: true,
  minify: true,
  banner: {
    js: 'import { createRequire as __molCreateRequire } from "node:module"; const require = __molCreateRequire(import.meta.url);',
  },
});
