// The adapter loader against real modules in real temp dirs: ESM and CJS packages under a config
// dir's node_modules, a path relative to the config dir, a package beside the daemon's own install,
// and each way a module can be wrong. Every module is a real file the loader imports.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { workspaceConfigSchema } from "@molecule/config";
import { createSessionStore } from "@molecule/session";
import { removeDir, sinkLogger, tempDir, waitFor } from "@molecule/test-support";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { name as runtimePackage } from "../../package.json";
import { createSecrets } from "../redact.js";
import { type AdapterLoad, type LoadAdapterOptions, loadAdapter } from "./load.js";

let dir: string;
let configDir: string;
let install: string;

beforeEach(async () => {
  dir = await tempDir("runtime-adapter-");
  configDir = join(dir, "configs");
  install = join(dir, "install");
  await mkdir(configDir, { recursive: true });
  await mkdir(join(install, "node_modules", "@molecule", "runtime", "dist"), { recursive: true });
});
afterEach(async () => {
  await removeDir(dir);
});

async function put(path: string, text: string | object): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof text === "string" ? text : `${JSON.stringify(text, null, 2)}\n`);
}

/** An adapter package `name` under `root`/node_modules, with `files` and a package.json. */
async function pkg(root: string, name: string, pkgJson: object, files: Record<string, string>): Promise<void> {
  const at = join(root, "node_modules", name);
  await put(join(at, "package.json"), { name, version: "1.0.0", ...pkgJson });
  for (const [file, text] of Object.entries(files)) await put(join(at, file), text);
}

const ECHO_ESM = `export function createExecutor(context) {
  return {
    name: "echo-" + context.config.name,
    checks: [{ name: "echo-ready", timeoutMs: 1000, needsConfig: false, run: async () => ({ detail: context.stateDir }) }],
    async runTurn(turn) { return { outcome: "ok", text: "echo: " + turn.text }; },
  };
}
`;

async function load(module: string | undefined, extra: Partial<LoadAdapterOptions> = {}, env: NodeJS.ProcessEnv = {}) {
  const config = workspaceConfigSchema.parse({
    name: "w1",
    runtime: "adapter",
    runtime_config: module === undefined ? {} : { module },
  });
  const log = sinkLogger();
  const result = await loadAdapter({
    config,
    env,
    mask: createSecrets(env).maskText,
    selfFile: join(install, "node_modules", "@molecule", "runtime", "dist", "index.js"),
    context: {
      config,
      workspaceDir: dir,
      configDir,
      stateDir: join(dir, "state", "adapter"),
      env,
      logger: log.logger,
      sessionStore: createSessionStore({ file: join(dir, "state", "session.json") }),
      groups: { started: () => undefined, ended: () => undefined },
    },
    ...extra,
  });
  return result;
}

function executorOf(result: AdapterLoad) {
  if (!result.ok) throw new Error(`expected an executor, got ${JSON.stringify(result.failure)}`);
  return result.executor;
}

async function answer(result: AdapterLoad, text: string) {
  const reply = await executorOf(result).runTurn({
    taskId: "t1",
    text,
    signal: new AbortController().signal,
    progress: () => undefined,
  });
  return reply.text;
}

describe("loadAdapter: finding and importing the module", () => {
  it("an ESM package in the config dir's node_modules (exports map, import condition) gets the context", async () => {
    await pkg(
      configDir,
      "@acme/echo",
      { type: "module", exports: { ".": { import: "./index.js" } } },
      {
        "index.js": ECHO_ESM,
      },
    );
    const result = await load("@acme/echo");
    expect(executorOf(result).name).toBe("echo-w1");
    expect(await answer(result, "hi")).toBe("echo: hi");
    expect(await executorOf(result).checks?.[0]?.run({} as never)).toEqual({ detail: join(dir, "state", "adapter") });
    expect(result.ok && result.detail).toBe(
      `@acme/echo → ${join(configDir, "node_modules", "@acme", "echo", "index.js")} (executor echo-w1)`,
    );
    expect(result.warnings).toEqual([]);
  });

  it("a CJS package: module.exports = { createExecutor } (default export) and exports.createExecutor (named)", async () => {
    await pkg(
      configDir,
      "cjs-default",
      { main: "lib/main.js" },
      {
        "lib/main.js": `module.exports = { createExecutor: () => ({ name: "d", runTurn: async (t) => ({ outcome: "ok", text: "d:" + t.text }) }) };`,
      },
    );
    await pkg(
      configDir,
      "cjs-named",
      {},
      {
        "index.js": `exports.createExecutor = async () => ({ name: "n", runTurn: async (t) => ({ outcome: "ok", text: "n:" + t.text }) });`,
      },
    );
    expect(await answer(await load("cjs-default"), "x")).toBe("d:x");
    expect(await answer(await load("cjs-named"), "y")).toBe("n:y");
  });

  it("a path relative to the config dir (an .mjs file, or a directory with an index.js)", async () => {
    await put(join(configDir, "adapters", "echo.mjs"), ECHO_ESM);
    expect(await answer(await load("./adapters/echo.mjs"), "p")).toBe("echo: p");
    await put(
      join(dir, "common-adapters", "index.js"),
      `exports.default = { createExecutor: () => ({ name: "s", runTurn: async () => ({ outcome: "ok", text: "s" }) }) };`,
    );
    expect(await answer(await load("../common-adapters"), "q")).toBe("s");
  });

  it("an absolute path to an installed package's dir (its exports map), as an image names it", async () => {
    await pkg(
      join(dir, "opt"),
      "@acme/abs",
      { type: "module", exports: { ".": "./main.js" } },
      { "main.js": ECHO_ESM },
    );
    expect(await answer(await load(join(dir, "opt", "node_modules", "@acme", "abs")), "a")).toBe("echo: a");
  });

  it("a package beside the daemon's own install when the config dir has none", async () => {
    await pkg(install, "@acme/global", { type: "module", main: "index.js" }, { "index.js": ECHO_ESM });
    expect(await answer(await load("@acme/global"), "g")).toBe("echo: g");
  });

  it("not found: E_ADAPTER_NOT_FOUND names every place it looked, config dir first, then the install", async () => {
    const result = await load("@acme/missing");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ severity: "fail", code: "E_ADAPTER_NOT_FOUND" });
    const looked = result.failure.detail;
    expect(looked).toContain("@acme/missing (runtime_config.module): looked in ");
    const first = looked.indexOf(join(configDir, "node_modules"));
    const installed = looked.indexOf(join(install, "node_modules"));
    expect(first).toBeGreaterThan(0);
    expect(installed).toBeGreaterThan(first);
    expect(looked.lastIndexOf("/lib/node")).toBeGreaterThan(installed); // Node's global folders come last
    expect(result.failure.fix).toContain(`npm install @acme/missing in ${configDir}`);
    expect(result.failure.fix).toContain("npm install -g @acme/missing");
  });

  it("not found for a path, for no name at all, and when the env var named it", async () => {
    const path = await load("./nope.js");
    expect(!path.ok && path.failure.detail).toContain(`looked in ${join(configDir, "nope.js")}`);
    const none = await load(undefined);
    expect(!none.ok && none.failure.code).toBe("E_ADAPTER_NOT_FOUND");
    expect(!none.ok && none.failure.fix).toContain("runtime_config.module");
    const env = await load("@acme/nope", {}, { MOLECULE_ADAPTER_MODULE: "@acme/nope" });
    expect(!env.ok && env.failure.detail).toContain("@acme/nope (MOLECULE_ADAPTER_MODULE): looked in");
  });

  it("a package whose exports map has no entry for the import is not found, saying so", async () => {
    await pkg(configDir, "only-sub", { exports: { "./sub": "./sub.js" } }, { "sub.js": ECHO_ESM });
    const result = await load("only-sub");
    expect(!result.ok && result.failure.detail).toContain(
      `${join(configDir, "node_modules", "only-sub")} (there, but with no entry file for ".")`,
    );
  });
});

describe("loadAdapter: the module's shape and its factory", () => {
  it("no createExecutor export: E_ADAPTER_SHAPE names the exports it found", async () => {
    await put(join(configDir, "a.mjs"), "export const make = () => 1;\nexport default { name: 'x', start() {} };\n");
    const result = await load("./a.mjs");
    expect(!result.ok && result.failure).toMatchObject({ code: "E_ADAPTER_SHAPE" });
    expect(!result.ok && result.failure.detail).toContain("exports default (an object with name, start), make");
    await put(join(configDir, "b.mjs"), "export const createExecutor = 42;\n");
    expect(!(await load("./b.mjs")).ok && JSON.stringify(await load("./b.mjs"))).toContain(
      "createExecutor is a number",
    );
  });

  it("a factory that throws: E_ADAPTER_FAILED with the cause, its secret masked", async () => {
    const secret = "acme-live-8f3a9c2e71d04b5a";
    await put(
      join(configDir, "throws.mjs"),
      "export function createExecutor(ctx) { throw new Error('login refused for key ' + ctx.env.ACME_API_KEY + '\\nsecond line'); }\n",
    );
    const result = await load("./throws.mjs", {}, { ACME_API_KEY: secret });
    expect(!result.ok && result.failure.code).toBe("E_ADAPTER_FAILED");
    const text = JSON.stringify(result);
    expect(text).toContain("createExecutor(context) threw Error: login refused for key");
    expect(text).toContain("second line"); // one line
    expect(text).not.toContain(secret);
  });

  it("a factory that returns junk, or an executor with bad checks: E_ADAPTER_FAILED saying what is missing", async () => {
    await put(join(configDir, "junk.mjs"), "export const createExecutor = async () => ({ name: 'half' });\n");
    expect(!(await load("./junk.mjs")).ok && JSON.stringify(await load("./junk.mjs"))).toContain(
      'executor \\"half\\" has no runTurn function',
    );
    await put(join(configDir, "nothing.mjs"), "export const createExecutor = () => undefined;\n");
    expect(JSON.stringify(await load("./nothing.mjs"))).toContain("it returned undefined");
    await put(
      join(configDir, "dup.mjs"),
      "const c = { name: 'adapter', run: async () => ({}) };\nexport const createExecutor = () => ({ name: 'd', runTurn: async () => ({ outcome: 'ok' }), checks: [c] });\n",
    );
    expect(JSON.stringify(await load("./dup.mjs"))).toContain('two checks are named \\"adapter\\"');
  });

  it("a module that throws while loading: E_ADAPTER_FAILED", async () => {
    await put(join(configDir, "boom.mjs"), "throw new TypeError('no config for boom');\n");
    const result = await load("./boom.mjs");
    expect(!result.ok && result.failure).toMatchObject({
      code: "E_ADAPTER_FAILED",
      title: "Adapter module failed to load",
    });
    expect(!result.ok && result.failure.detail).toContain("threw TypeError: no config for boom");
  });

  it("a factory that never settles fails after the timeout, on the injected clock", async () => {
    const called = join(configDir, "called");
    await put(
      join(configDir, "hang.mjs"),
      `import { writeFileSync } from "node:fs";\nexport const createExecutor = () => { writeFileSync(${JSON.stringify(called)}, "1"); return new Promise(() => {}); };\n`,
    );
    const clock = createFakeClock();
    let settled = false;
    const pending = load("./hang.mjs", { clock, factoryTimeoutMs: 5_000 }).finally(() => {
      settled = true;
    });
    await waitFor(() => existsSync(called)); // the factory runs: its timer is set
    await clock.advance(4_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    const result = await pending;
    expect(!result.ok && result.failure).toMatchObject({ code: "E_ADAPTER_FAILED" });
    expect(!result.ok && result.failure.detail).toContain("createExecutor(context) did not settle within 5 s");
  });

  it("a module whose loading never finishes fails after the timeout too", async () => {
    await put(
      join(configDir, "stuck.mjs"),
      "await new Promise(() => {});\nexport const createExecutor = () => null;\n",
    );
    const clock = createFakeClock();
    const pending = load("./stuck.mjs", { clock, factoryTimeoutMs: 5_000 });
    await waitFor(() => clock.pending() > 0);
    await clock.advance(5_000);
    const result = await pending;
    expect(!result.ok && result.failure).toMatchObject({
      code: "E_ADAPTER_FAILED",
      title: "Adapter module failed to load",
    });
    expect(!result.ok && result.failure.detail).toContain("did not finish within 5 s");
  });
});

describe("loadAdapter: the peer range on @molecule/runtime", () => {
  it("a range this version is outside warns (the executor still loads); a matching range says nothing", async () => {
    await pkg(
      configDir,
      "old-adapter",
      { type: "module", peerDependencies: { [runtimePackage]: ">=99.0.0" } },
      {
        "index.js": ECHO_ESM,
      },
    );
    const old = await load("old-adapter");
    expect(old.ok).toBe(true);
    expect(old.warnings).toEqual([expect.objectContaining({ severity: "warn", code: "W_PEER_RANGE_UNSATISFIED" })]);
    expect(old.warnings[0]?.detail).toContain(
      'old-adapter 1.0.0 declares peerDependencies["@molecule/runtime"] = ">=99.0.0"',
    );
    await pkg(
      configDir,
      "any-adapter",
      { type: "module", peerDependencies: { [runtimePackage]: "*" } },
      {
        "index.js": ECHO_ESM,
      },
    );
    expect((await load("any-adapter")).warnings).toEqual([]);
  });
});
