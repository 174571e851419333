import { moleculeBuild } from "../../tsup.base";

// An application, not a library: ESM with its shebang, no declarations. Most dependencies are bundled
// (a cold `molecule preflight` spends most of its time resolving and loading modules otherwise),
// split so that `molecule --help` does not load the preflight code. `require` is provided for the
// CommonJS dependencies (commander) inside the ESM bundle.
//
// Kept external and loaded lazily (dynamic import) by the commands that need them: the daemon
// (`@molecule/runtime`: pino's transports run in worker threads resolved by file path, prom-client keeps
// process-wide state) and the testkit that `molecule dev` starts. `molecule preflight` never loads them.
// The daemon's admin protocol (`@molecule/runtime/admin`: zod schemas, no daemon code) is bundled, so
// `molecule status` does not load the daemon's package.
const EXTERNAL = ["@molecule/runtime", "@molecule/testkit", "pino", "pino-pretty", "prom-client"];
const BUNDLED_SUBPATHS = ["@molecule/runtime/admin"];
const escaped = EXTERNAL.map((name) => name.replace(/[/.-]/g, "\\$&")).join("|");

export default moleculeBuild({
  entry: ["src/bin.ts"],
  format: ["esm"],
  dts: false,
  // tsup lets noExternal win over external, so the bundled set is "everything but these".
  noExternal: [new RegExp(`^(?!(?:${escaped})(?:/|$))`), ...BUNDLED_SUBPATHS],
  external: EXTERNAL,
  splitting: true,
  minify: true,
  banner: {
    js: 'import { createRequire as __molCreateRequire } from "node:module"; const require = __molCreateRequire(import.meta.url);',
  },
});
