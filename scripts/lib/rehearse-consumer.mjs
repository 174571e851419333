// One published package as its users get it, in a clean directory outside the repository: install
// exactly what its README's install line names (the @molecule scope from the rehearsal registry,
// everything else from the normal registry through the npm cache), import it as ESM, require it as
// CJS, type-check a small consumer under `module: nodenext` and `moduleResolution: bundler`, run the
// README's ```ts usage blocks, and run its bins from a global install into a temp prefix.
//
// A usage block runs as an ES module in the consumer directory with `node`, its TypeScript removed
// by `ts.transpileModule`, with a 60 s timeout and the environment given as `usageEnv` (see
// scripts/release-rehearse.mjs: HOME, WORKSPACE_ID, PLATFORM_URL, WORKSPACE_CONFIG_PATH holding the
// example workspace's config.yaml, CONFIGS_DIR, MOLECULE_STATE_DIR in temp dirs). It passes when it
// exits 0.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, run } from "./proc.mjs";

const INSTALL_TIMEOUT_MS = 5 * 60_000;

/**
 * @typedef {{ name: string, manifest: Record<string, any>, install: import("./usage-blocks.mjs").InstallCommand[], usage: import("./usage-blocks.mjs").UsageBlock[] }} PublishedPackage
 * @typedef {{ root: string, registryUrl: string, dir: string, env: Record<string, string>, usageEnv: Record<string, string>, ts: any, version: string, builtVersion: string }} ConsumerContext
 * @typedef {Record<string, string>} Checks  check name → "ok", "FAIL", "–" or a short note
 */

/**
 * @param {PublishedPackage} pkg
 * @param {ConsumerContext} ctx
 * @returns {Promise<{ checks: Checks, installMs: number | undefined, problems: string[] }>}
 */
export async function checkConsumer(pkg, ctx) {
  /** @type {string[]} */
  const problems = [];
  /** @type {Checks} */
  const checks = {};
  const consumer = join(ctx.dir, "npm");
  prepareProject(consumer, ctx.registryUrl);

  const names = (command) => command.packages.some((spec) => packageName(spec) === pkg.name);
  let commands = pkg.install.filter((command) => !command.global);
  const library = Boolean(pkg.manifest.exports?.["."] ?? pkg.manifest.main);
  const bins = Object.keys(binMap(pkg.manifest));
  if (commands.length === 0 && !library && bins.length > 0 && pkg.install.some((c) => c.global && names(c))) {
    // A command-line tool its README installs only globally: that install is the one to time.
    const global = await checkGlobalBins(pkg, bins, ctx);
    checks.install = global.installed ? "ok" : "FAIL";
    Object.assign(checks, { esm: "–", cjs: "–", nodenext: "–", bundler: "–", usage: "–" });
    checks.bins = global.ok ? global.note : "FAIL";
    return { checks, installMs: global.ms, problems: global.problems };
  }
  if (commands.length === 0) {
    problems.push(`README has no \`npm install\` line in its Install section. Fix: add \`npm install ${pkg.name}\``);
    commands = [
      {
        line: `npm install ${pkg.name}`,
        argv: ["npm", "install", pkg.name],
        packages: [pkg.name],
        dev: false,
        global: false,
      },
    ];
  } else if (!commands.some(names)) {
    problems.push(`README's install line (${commands.map((c) => c.line).join("; ")}) does not name ${pkg.name}`);
  }
  let installMs = 0;
  let installed = true;
  for (const command of commands) {
    const result = await run(command.argv[0], command.argv.slice(1), {
      cwd: consumer,
      env: ctx.env,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    installMs += result.ms;
    if (result.code !== 0) {
      installed = false;
      problems.push(`install failed: ${describeFailure(result)}`);
      break;
    }
  }
  checks.install = installed ? "ok" : "FAIL";
  if (!installed) return { checks, installMs, problems };

  const got = readVersion(consumer, pkg.name);
  if (got !== ctx.version) problems.push(`installed ${pkg.name}@${got}, expected ${ctx.version}`);

  if (library) {
    const modules = await esmAndCjs(consumer, pkg.name, ctx.env);
    checks.esm = modules.esm.ok ? "ok" : "FAIL";
    checks.cjs = modules.cjs.ok ? "ok" : "FAIL";
    problems.push(...modules.problems);
  } else {
    checks.esm = "–";
    checks.cjs = "–";
  }

  const usageFiles = writeUsage(consumer, pkg.usage, ctx.ts);
  if (library || usageFiles.length > 0) {
    const typed = await typecheck(consumer, pkg.name, library, usageFiles, ctx);
    checks.nodenext = typed.nodenext;
    checks.bundler = typed.bundler;
    problems.push(...typed.problems);
  } else {
    checks.nodenext = "–";
    checks.bundler = "–";
  }

  if (usageFiles.length === 0) checks.usage = "–";
  else {
    let passed = 0;
    for (const file of usageFiles) {
      const result = await run(process.execPath, [file.replace(/\.ts$/, ".mjs")], {
        cwd: consumer,
        env: { ...ctx.env, ...ctx.usageEnv },
        timeoutMs: 60_000,
      });
      if (result.code === 0) passed += 1;
      else problems.push(`README usage block ${file} failed: ${describeFailure(result)}`);
    }
    checks.usage = passed === usageFiles.length ? `${passed} ok` : "FAIL";
  }

  if (bins.length === 0) checks.bins = "–";
  else {
    const global = await checkGlobalBins(pkg, bins, ctx);
    checks.bins = global.ok ? global.note : "FAIL";
    problems.push(...global.problems);
  }
  return { checks, installMs, problems };
}

/**
 * The same install with pnpm (a temp store, so nothing of the rehearsal stays in the user's), then
 * ESM import and CJS require: pnpm's strict layout fails on an import the manifests do not declare.
 * @param {PublishedPackage} pkg
 * @param {ConsumerContext} ctx
 */
export async function checkPnpmConsumer(pkg, ctx) {
  const consumer = join(ctx.dir, "pnpm");
  prepareProject(consumer, ctx.registryUrl, [
    `store-dir=${join(ctx.dir, "pnpm-store")}`,
    `cache-dir=${join(ctx.dir, "pnpm-cache")}`,
  ]);
  const commands = pkg.install.filter((command) => !command.global);
  const specs = commands.length > 0 ? commands : [{ packages: [pkg.name], dev: false }];
  const problems = [];
  let ms = 0;
  for (const command of specs) {
    const args = ["add", ...(command.dev ? ["-D"] : []), ...command.packages];
    const result = await run("pnpm", args, { cwd: consumer, env: ctx.env, timeoutMs: INSTALL_TIMEOUT_MS });
    ms += result.ms;
    if (result.code !== 0) return { ok: false, ms, problems: [`pnpm install failed: ${describeFailure(result)}`] };
  }
  const modules = await esmAndCjs(consumer, pkg.name, ctx.env);
  problems.push(...modules.problems.map((p) => `pnpm: ${p}`));
  return { ok: modules.esm.ok && modules.cjs.ok, ms, problems };
}

/** @param {string} dir @param {string} registryUrl @param {string[]} [extra] */
function prepareProject(dir, registryUrl, extra = []) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "rehearsal-consumer", version: "0.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  writeFileSync(join(dir, ".npmrc"), [`@molecule:registry=${registryUrl}`, ...extra, ""].join("\n"));
}

/** `@scope/name@range` → `@scope/name` */
function packageName(spec) {
  const at = spec.indexOf("@", 1);
  return at === -1 ? spec : spec.slice(0, at);
}

/** @param {string} dir @param {string} name */
function readVersion(dir, name) {
  const file = join(dir, "node_modules", ...name.split("/"), "package.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).version : undefined;
}

/** @param {Record<string, any>} manifest @returns {Record<string, string>} */
export function binMap(manifest) {
  if (!manifest.bin) return {};
  if (typeof manifest.bin === "string") return { [manifest.name.split("/").pop()]: manifest.bin };
  return manifest.bin;
}

/**
 * Imports the package as ESM and requires it as CJS in `dir`; both must give the same export names.
 * @param {string} dir @param {string} name @param {Record<string, string>} env
 */
async function esmAndCjs(dir, name, env) {
  const spec = JSON.stringify(name);
  const esm = await run(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const m = await import(${spec}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== "default").sort()));`,
    ],
    { cwd: dir, env, timeoutMs: 30_000 },
  );
  const cjs = await run(
    process.execPath,
    [
      "--input-type=commonjs",
      "-e",
      `const m = require(${spec}); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== "default" && k !== "__esModule").sort()));`,
    ],
    { cwd: dir, env, timeoutMs: 30_000 },
  );
  const problems = [];
  const names = (/** @type {Awaited<ReturnType<typeof run>>} */ result, how) => {
    if (result.code !== 0) {
      problems.push(`${how} of ${name} failed: ${describeFailure(result, 8)}`);
      return undefined;
    }
    const list = JSON.parse(result.stdout.trim().split("\n").pop() ?? "[]");
    if (list.length === 0) problems.push(`${how} of ${name} exports nothing`);
    return list;
  };
  const esmNames = names(esm, "import()");
  const cjsNames = names(cjs, "require()");
  if (esmNames && cjsNames && JSON.stringify(esmNames) !== JSON.stringify(cjsNames)) {
    const onlyEsm = esmNames.filter((n) => !cjsNames.includes(n));
    const onlyCjs = cjsNames.filter((n) => !esmNames.includes(n));
    problems.push(
      `ESM and CJS export different names (ESM only: ${onlyEsm.join(", ") || "–"}; CJS only: ${onlyCjs.join(", ") || "–"})`,
    );
  }
  return {
    esm: { ok: Boolean(esmNames?.length) },
    cjs: { ok: Boolean(cjsNames?.length) && JSON.stringify(esmNames) === JSON.stringify(cjsNames) },
    problems,
  };
}

/**
 * Writes each usage block as usage-N.ts (for tsc) and usage-N.mjs (to run). Returns the .ts names.
 * @param {string} dir @param {import("./usage-blocks.mjs").UsageBlock[]} blocks @param {any} ts
 */
function writeUsage(dir, blocks, ts) {
  return blocks.map((block) => {
    const file = `usage-${block.index}.ts`;
    writeFileSync(join(dir, file), `${block.code}\n`);
    const js = ts.transpileModule(block.code, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    writeFileSync(join(dir, file.replace(/\.ts$/, ".mjs")), js);
    return file;
  });
}

/**
 * tsc over a small consumer (+ the usage blocks) under module nodenext and under moduleResolution
 * bundler, with the repository's TypeScript and @types/node.
 */
async function typecheck(dir, name, library, usageFiles, ctx) {
  const spec = JSON.stringify(name);
  const base = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: "es2022",
    lib: ["es2023"],
    types: ["node"],
    typeRoots: [join(ctx.root, "node_modules", "@types")],
  };
  const nodenextFiles = [...usageFiles];
  const bundlerFiles = [...usageFiles];
  if (library) {
    writeFileSync(
      join(dir, "consumer.mts"),
      `import * as pkg from ${spec};\nexport const names: string[] = Object.keys(pkg);\n`,
    );
    writeFileSync(
      join(dir, "consumer.cts"),
      `import pkg = require(${spec});\nexport const names: string[] = Object.keys(pkg);\n`,
    );
    writeFileSync(
      join(dir, "consumer-bundler.ts"),
      `import * as pkg from ${spec};\nexport const names: string[] = Object.keys(pkg);\n`,
    );
    nodenextFiles.push("consumer.mts", "consumer.cts");
    bundlerFiles.push("consumer-bundler.ts");
  }
  const configs = {
    nodenext: { compilerOptions: { ...base, module: "nodenext", moduleResolution: "nodenext" }, files: nodenextFiles },
    bundler: { compilerOptions: { ...base, module: "preserve", moduleResolution: "bundler" }, files: bundlerFiles },
  };
  const tsc = join(ctx.root, "node_modules", "typescript", "bin", "tsc");
  const problems = [];
  /** @type {Record<string, string>} */
  const out = {};
  for (const [mode, config] of Object.entries(configs)) {
    writeFileSync(join(dir, `tsconfig.${mode}.json`), `${JSON.stringify(config, null, 2)}\n`);
    const result = await run(process.execPath, [tsc, "-p", `tsconfig.${mode}.json`], {
      cwd: dir,
      env: ctx.env,
      timeoutMs: 120_000,
    });
    out[mode] = result.code === 0 ? "ok" : "FAIL";
    if (result.code !== 0) problems.push(`tsc (${mode}) failed: ${describeFailure(result, 15)}`);
  }
  return { nodenext: out.nodenext, bundler: out.bundler, problems };
}

/**
 * `npm install -g` (the README's -g line, else `npm install -g <name>`) into a temp prefix, then
 * `<bin> --help` and `<bin> --version` for each bin.
 * @param {PublishedPackage} pkg @param {string[]} bins @param {ConsumerContext} ctx
 */
async function checkGlobalBins(pkg, bins, ctx) {
  const prefix = join(ctx.dir, "global");
  mkdirSync(prefix, { recursive: true });
  // Global installs read no project .npmrc: the scope's registry comes from the environment.
  const env = { ...ctx.env, NPM_CONFIG_PREFIX: prefix, "npm_config_@molecule:registry": ctx.registryUrl };
  const line = pkg.install.find(
    (command) => command.global && command.packages.some((spec) => packageName(spec) === pkg.name),
  );
  const argv = line ? line.argv : ["npm", "install", "-g", pkg.name];
  const problems = [];
  const install = await run(argv[0], argv.slice(1), { cwd: ctx.dir, env, timeoutMs: INSTALL_TIMEOUT_MS });
  if (install.code !== 0) {
    const problem = `global install failed: ${describeFailure(install)}`;
    return { ok: false, installed: false, note: "", ms: install.ms, problems: [problem] };
  }
  let builtAs = false;
  for (const bin of bins) {
    const path = join(prefix, "bin", bin);
    const help = await run(path, ["--help"], { cwd: ctx.dir, env: ctx.env, timeoutMs: 30_000 });
    if (help.code !== 0 || help.stdout.trim() === "") problems.push(`\`${bin} --help\`: ${describeFailure(help, 8)}`);
    const version = await run(path, ["--version"], { cwd: ctx.dir, env: ctx.env, timeoutMs: 30_000 });
    const printed = version.stdout.trim();
    if (version.code !== 0) problems.push(`\`${bin} --version\`: ${describeFailure(version, 8)}`);
    else if (printed.includes(ctx.version)) {
      // the version it was published as
    } else if (printed.includes(ctx.builtVersion)) {
      // The rehearsal packs the tree as built, before `changeset version` changed package.json; a
      // bin that inlines its version at build time prints the old one here (the real release
      // builds after versioning).
      builtAs = true;
    } else problems.push(`\`${bin} --version\` printed "${printed}", expected ${ctx.version}`);
  }
  return {
    ok: problems.length === 0,
    installed: true,
    note: `${bins.length * 2} ok, -g ${(install.ms / 1000).toFixed(1)} s${builtAs ? `, v${ctx.builtVersion} inlined at build` : ""}`,
    problems,
    ms: install.ms,
  };
}
