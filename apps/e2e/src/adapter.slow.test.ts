// runtime: adapter on the built daemon: the template adapter package (examples/adapter-package) is
// packed with `npm pack`, installed from its tarball into a clean config dir (offline: it has no
// dependencies, and its peer on @molecule/runtime is optional) and named by its package name; the
// daemon answers A2A through it. MOLECULE_ADAPTER_MODULE beats the config. Each way an adapter can
// be wrong stops the boot before it serves: exit 1, the failing line on stderr, its code in the log.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT, removeDir, tempDir } from "@molecule/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Daemon, getJson, replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

const run = promisify(execFile);
const e2e = e2eSuite("molecule-e2e-adapter-");
const PACKAGE = "@acme/molecule-adapter-echo";

let packDir: string;
let tarball: string;

beforeAll(async () => {
  packDir = await tempDir("molecule-e2e-adapter-pack-");
  const { stdout } = await run(
    "npm",
    ["pack", "--json", "--pack-destination", packDir, join(REPO_ROOT, "examples/adapter-package")],
    { env: { ...process.env, npm_config_loglevel: "error" } },
  );
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  tarball = join(packDir, packed?.filename ?? "");
}, 60_000);
afterAll(async () => {
  await removeDir(packDir);
});

/** `npm install <tarball>` into the daemon's config dir, as an operator would, with no registry. */
async function installPackage(root: string): Promise<void> {
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", tarball], {
    cwd: join(root, "configs"),
    env: { ...process.env, npm_config_loglevel: "error", npm_config_cache: join(root, "npm-cache") },
  });
}

const adapterConfig = (module: string) => ({ runtime: "adapter", runtime_config: { module } });

/** A daemon whose boot must fail: its exit code, its stderr, and the failure codes preflight logged. */
async function bootFailure(
  config: Record<string, unknown>,
  files: Record<string, string> = {},
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stderr: string; codes: unknown; daemon: Daemon }> {
  const daemon = await startDaemon({
    platform: e2e.platform,
    config,
    env,
    waitListening: false,
    beforeStart: async ({ root }) => {
      for (const [name, text] of Object.entries(files)) await writeFile(join(root, "configs", name), text);
    },
  });
  const { code } = await daemon.exited;
  const done = daemon.logs.filter((l) => l.event === "preflight.done").at(-1);
  expect(daemon.logs.some((l) => l.event === "a2a.listening")).toBe(false);
  expect(e2e.platform.control.registrations(daemon.id)).toHaveLength(0);
  return { code, stderr: daemon.stderr(), codes: done?.failures, daemon };
}

describe("runtime: adapter with a packed adapter package", () => {
  it("installed into a clean config dir by name, it boots the built daemon and answers over A2A", async () => {
    const d = await startDaemon({
      platform: e2e.platform,
      config: adapterConfig(PACKAGE),
      env: { ECHO_PREFIX: "acme says: " },
      beforeStart: ({ root }) => installPackage(root),
    });
    expect(replyText(await sendMessage(d, "hello adapter"))).toBe("acme says: hello adapter");
    const loaded = d.logs.find((l) => l.event === "adapter.loaded");
    expect(loaded?.executor).toBe("echo");
    expect(loaded?.msg).toContain(join(d.configsDir, "node_modules", "@acme", "molecule-adapter-echo", "index.js"));
    // Its check passed at boot and is the readiness gate's; its peer range (0.x) fits: no warning.
    expect((await getJson(d, "/readyz")).status).toBe(200);
    // (W_A2A_UNAUTHENTICATED is the harness's own opt-in to serve beyond loopback without a token.)
    const warnings = d.logs.filter((l) => l.event === "preflight.warning" && l.code !== "W_A2A_UNAUTHENTICATED");
    expect(warnings).toEqual([]);
    expect(d.logs.some((l) => l.event === "echo.created")).toBe(true);
  });

  it("MOLECULE_ADAPTER_MODULE beats runtime_config.module", async () => {
    const second =
      "export const createExecutor = () => ({ name: 'second', runTurn: async (t) => ({ outcome: 'ok', text: 'second: ' + t.text }) });\n";
    const d = await startDaemon({
      platform: e2e.platform,
      config: adapterConfig(PACKAGE),
      env: { MOLECULE_ADAPTER_MODULE: "./second.mjs" },
      beforeStart: async ({ root }) => {
        await installPackage(root);
        await writeFile(join(root, "configs", "second.mjs"), second);
      },
    });
    expect(replyText(await sendMessage(d, "who"))).toBe("second: who");
    expect(d.logs.find((l) => l.event === "adapter.loaded")?.executor).toBe("second");
  });

  it("its own failing check stops the boot with the check's fix (exit 1)", async () => {
    const daemon = await startDaemon({
      platform: e2e.platform,
      config: adapterConfig(PACKAGE),
      env: { ECHO_MODE: "off" },
      waitListening: false,
      beforeStart: ({ root }) => installPackage(root),
    });
    expect((await daemon.exited).code).toBe(1);
    expect(daemon.stderr()).toContain("[FAIL] Echo is switched off: ECHO_MODE is off");
    expect(daemon.logs.filter((l) => l.event === "preflight.done").at(-1)?.failures).toEqual(["E_ECHO_OFF"]);
  });

  it("a peer range on @molecule/runtime that this version is outside of warns, and the daemon still serves", async () => {
    const d = await startDaemon({
      platform: e2e.platform,
      config: adapterConfig("./future"),
      beforeStart: async ({ root }) => {
        const at = join(root, "configs", "future");
        await mkdir(at, { recursive: true });
        await writeFile(
          join(at, "package.json"),
          JSON.stringify({
            name: "future-adapter",
            version: "2.0.0",
            peerDependencies: { "@molecule/runtime": ">=99" },
          }),
        );
        await writeFile(
          join(at, "index.js"),
          "module.exports = { createExecutor: () => ({ name: 'future', runTurn: async () => ({ outcome: 'ok', text: 'from the future' }) }) };\n",
        );
      },
    });
    expect(replyText(await sendMessage(d, "x"))).toBe("from the future");
    const warning = d.logs.find((l) => l.event === "preflight.warning" && l.code === "W_PEER_RANGE_UNSATISFIED");
    expect(warning?.msg).toContain('future-adapter 2.0.0 declares peerDependencies["@molecule/runtime"] = ">=99"');
  });
});

describe("the template's types", () => {
  it("its JSDoc types check against the built @molecule/runtime (AdapterContext, Executor)", async () => {
    const tsconfig = join(e2e.tmp, "tsconfig.json");
    const compilerOptions = {
      allowJs: true,
      checkJs: true,
      noEmit: true,
      strict: true,
      module: "NodeNext",
      moduleResolution: "NodeNext",
      target: "ES2022",
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [join(REPO_ROOT, "node_modules/@types")],
      paths: { "@molecule/runtime": [join(REPO_ROOT, "apps/runtime/dist/index.d.ts")] },
    };
    const files = [join(REPO_ROOT, "examples/adapter-package/index.js")];
    await writeFile(tsconfig, JSON.stringify({ compilerOptions, files }));
    const tsc = join(REPO_ROOT, "node_modules/typescript/bin/tsc");
    const checked = await run(process.execPath, [tsc, "-p", tsconfig]).catch((e: { stdout?: string }) => e);
    expect("stdout" in checked ? checked.stdout : "").toBe("");
  });
});

describe("runtime: adapter preflight failures: exit 1 with the failing line, before serving", () => {
  it("E_ADAPTER_NOT_FOUND names every place it looked: the config dir's node_modules, then the daemon's install", async () => {
    const failed = await bootFailure(adapterConfig("@acme/not-installed"));
    expect(failed.code).toBe(1);
    expect(failed.codes).toEqual(["E_ADAPTER_NOT_FOUND"]);
    expect(failed.stderr).toContain("[FAIL] Adapter module not found: @acme/not-installed (runtime_config.module)");
    const looked = failed.stderr.indexOf(join(failed.daemon.configsDir, "node_modules"));
    const install = failed.stderr.indexOf(join(REPO_ROOT, "apps/runtime/node_modules"));
    expect(looked).toBeGreaterThan(0);
    expect(install).toBeGreaterThan(looked);
    expect(failed.stderr).toContain("Fix: Install it where the daemon looks: npm install @acme/not-installed in");
  });

  it("E_ADAPTER_SHAPE names the exports it found", async () => {
    const failed = await bootFailure(adapterConfig("./shapeless.mjs"), {
      "shapeless.mjs": "export function makeExecutor() {}\nexport const version = 1;\n",
    });
    expect([failed.code, failed.codes]).toEqual([1, ["E_ADAPTER_SHAPE"]]);
    expect(failed.stderr).toContain(
      "exports makeExecutor, version; the daemon needs a createExecutor(context) function",
    );
  });

  it("E_ADAPTER_FAILED when the factory throws: its message in the report, the secret in it masked", async () => {
    const secret = "acme-live-5f0c1d2e3b4a69788";
    const failed = await bootFailure(
      adapterConfig("./throws.mjs"),
      {
        "throws.mjs":
          "export function createExecutor(ctx) { throw new Error('the Acme API refused key ' + ctx.env.ACME_API_KEY); }\n",
      },
      { ACME_API_KEY: secret },
    );
    expect([failed.code, failed.codes]).toEqual([1, ["E_ADAPTER_FAILED"]]);
    expect(failed.stderr).toContain("createExecutor(context) threw Error: the Acme API refused key");
    expect(failed.stderr).not.toContain(secret);
    expect(JSON.stringify(failed.daemon.logs)).not.toContain(secret);
  });

  it("E_ADAPTER_FAILED when the factory returns something that is not an executor", async () => {
    const failed = await bootFailure(adapterConfig("./junk.cjs"), {
      "junk.cjs": "exports.createExecutor = async () => ({ run: () => 'not an executor' });\n",
    });
    expect([failed.code, failed.codes]).toEqual([1, ["E_ADAPTER_FAILED"]]);
    expect(failed.stderr).toContain("returned no Executor: it returned an object with run, without a name");
  });
});
