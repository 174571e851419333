import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type InstallAgentCliProgress, installAgentCli, TestkitError } from "./index.js";

const run = promisify(execFile);

let root: string;
let tarball: string;
let cache: string;

/** A real npm package with one executable, packed to a tarball: npm installs it offline. */
beforeAll(async () => {
  root = await tempDir("install-agent-cli-");
  const pkg = join(root, "pkg");
  await mkdir(join(pkg, "bin"), { recursive: true });
  await writeFile(
    join(pkg, "package.json"),
    JSON.stringify({ name: "tiny-agent", version: "1.2.3", bin: { "tiny-agent": "bin/tiny.js" } }),
  );
  await writeFile(join(pkg, "bin", "tiny.js"), '#!/usr/bin/env node\nconsole.log("tiny-agent 1.2.3");\n');
  await chmod(join(pkg, "bin", "tiny.js"), 0o755);
  const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", root], { cwd: pkg });
  tarball = join(root, stdout.trim().split("\n").pop() ?? "");
}, 30_000);

afterAll(() => removeDir(root));

beforeEach(async () => {
  cache = await tempDir("agent-cache-");
  return () => removeDir(cache);
});

const options = (extra: Partial<Parameters<typeof installAgentCli>[0]> = {}) => ({
  package: "tiny-agent",
  version: "1.2.3",
  bin: "tiny-agent",
  cacheDir: cache,
  from: tarball,
  ...extra,
});

/** A stand-in for npm that leaves a partial install in `--prefix`, then fails, or hangs. */
async function brokenNpm(behaviour: "fail" | "hang"): Promise<string> {
  const file = join(root, `npm-${behaviour}.js`);
  await writeFile(
    file,
    `#!/usr/bin/env node
const fs = require("node:fs"), path = require("node:path");
const prefix = process.argv[process.argv.indexOf("--prefix") + 1];
fs.mkdirSync(path.join(prefix, "node_modules", "tiny-agent"), { recursive: true });
fs.writeFileSync(path.join(prefix, "node_modules", "tiny-agent", "half.js"), "// half");
${
  behaviour === "fail"
    ? `for (let i = 0; i < 30; i++) console.error("npm http fetch GET https://registry.npmjs.org/tiny-agent attempt " + i);
console.error("npm error code ENOTFOUND");
console.error("npm error network request to https://registry.npmjs.org/tiny-agent failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org");
process.exit(1);`
    : `fs.writeFileSync(${JSON.stringify(join(root, "npm-pid"))}, String(process.pid));
setInterval(() => {}, 1000);`
}
`,
  );
  await chmod(file, 0o755);
  return file;
}

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);

describe("installAgentCli", () => {
  it("installs the package into <cache>/agents/<name>-<version> once, then reuses it without npm", async () => {
    const events: InstallAgentCliProgress[] = [];
    const first = await installAgentCli(options({ onProgress: (e) => events.push(e) }));
    const dir = join(cache, "agents", "tiny-agent-1.2.3");
    expect(first).toEqual({ bin: join(dir, "node_modules", ".bin", "tiny-agent"), dir, installed: true });
    expect((await run(first.bin, [])).stdout).toBe("tiny-agent 1.2.3\n");
    expect(events.map((e) => e.phase)).toEqual(["installing", "installed"]);
    expect(events[0]).toEqual({ phase: "installing", spec: "tiny-agent@1.2.3", dir });
    // only the install is left in the cache: no staging dir, no lock
    expect(await entries(join(cache, "agents"))).toEqual(["tiny-agent-1.2.3"]);

    // Cached: npm is not run again (this npm does not exist).
    const second = await installAgentCli(options({ npm: join(root, "no-such-npm") }));
    expect(second).toEqual({ ...first, installed: false });
  });

  it("two concurrent installs download once: the second waits for the first and uses its install", async () => {
    const events: string[] = [];
    const results = await Promise.all([
      installAgentCli(options({ onProgress: (e) => events.push(`a:${e.phase}`) })),
      installAgentCli(options({ onProgress: (e) => events.push(`b:${e.phase}`) })),
    ]);
    expect(results.map((r) => r.installed).sort()).toEqual([false, true]);
    expect(events.filter((e) => e.endsWith(":installing"))).toHaveLength(1);
    expect(events.filter((e) => e.endsWith(":waiting"))).toHaveLength(1);
    expect(await entries(join(cache, "agents"))).toEqual(["tiny-agent-1.2.3"]);
  });

  it("a failed npm is E_AGENT_INSTALL_FAILED with npm's last stderr lines and a hint, and leaves nothing behind", async () => {
    const error = await installAgentCli(options({ npm: await brokenNpm("fail") })).catch((e: unknown) => e);
    expect(TestkitError.isInstance(error)).toBe(true);
    const { code, message } = error as TestkitError;
    expect(code).toBe("E_AGENT_INSTALL_FAILED");
    expect(message).toContain("exited 1");
    expect(message).toContain("getaddrinfo ENOTFOUND registry.npmjs.org");
    expect(message).not.toContain("attempt 0\n"); // the tail, not the whole log
    expect(message).toMatch(/registry reachable.*disk space/s);
    expect(await entries(join(cache, "agents"))).toEqual([]);
  });

  it("npm that cannot be started is E_AGENT_INSTALL_FAILED naming it", async () => {
    const npm = join(root, "no-such-npm");
    const error = (await installAgentCli(options({ npm })).catch((e: unknown) => e)) as TestkitError;
    expect(error.code).toBe("E_AGENT_INSTALL_FAILED");
    expect(error.message).toContain(`could not run ${npm}`);
    expect(await entries(join(cache, "agents"))).toEqual([]);
  });

  it("a package whose version is not the one asked for is refused and not kept", async () => {
    const error = (await installAgentCli(options({ version: "1.2.4" })).catch((e: unknown) => e)) as TestkitError;
    expect(error.code).toBe("E_AGENT_INSTALL_FAILED");
    expect(error.message).toContain("tiny-agent@1.2.3");
    expect(await entries(join(cache, "agents"))).toEqual([]);
  });

  it("aborting kills npm and leaves nothing behind", async () => {
    const controller = new AbortController();
    const npm = await brokenNpm("hang");
    const pending = installAgentCli(
      options({
        npm,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.phase === "installing") setTimeout(() => controller.abort(new Error("stop")), 300);
        },
      }),
    );
    await expect(pending).rejects.toThrow("stop");
    expect(await entries(join(cache, "agents"))).toEqual([]);
    const pid = Number(await readFile(join(root, "npm-pid"), "utf8"));
    expect(() => process.kill(pid, 0)).toThrow(); // npm is gone
  });

  it("takes over what a killed install left: its lock, its staging dir and a dir without the executable", async () => {
    const agents = join(cache, "agents");
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    await mkdir(join(agents, "tiny-agent-1.2.3.lock"), { recursive: true });
    await writeFile(
      join(agents, "tiny-agent-1.2.3.lock", "owner.json"),
      JSON.stringify({ pid: dead, host: hostname(), at: Date.now() }),
    );
    await mkdir(join(agents, ".tiny-agent-1.2.3.partial-1-abcd", "node_modules"), { recursive: true });
    await mkdir(join(agents, "tiny-agent-1.2.3", "node_modules", "tiny-agent"), { recursive: true });
    const result = await installAgentCli(options());
    expect(result.installed).toBe(true);
    expect((await run(result.bin, [])).stdout).toBe("tiny-agent 1.2.3\n");
    expect(await entries(agents)).toEqual(["tiny-agent-1.2.3"]);
  });

  it("waits for a live lock holder and gives up with a clear error after lockTimeoutMs", async () => {
    const agents = join(cache, "agents");
    await mkdir(join(agents, "tiny-agent-1.2.3.lock"), { recursive: true });
    await writeFile(
      join(agents, "tiny-agent-1.2.3.lock", "owner.json"),
      JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }),
    );
    const error = (await installAgentCli(options({ lockTimeoutMs: 300 })).catch((e: unknown) => e)) as TestkitError;
    expect(error.code).toBe("E_AGENT_INSTALL_FAILED");
    expect(error.message).toContain("another process has been installing");
    expect(await entries(agents)).toEqual(["tiny-agent-1.2.3.lock"]);
  });

  it("refuses names that are not a package, version and bin", async () => {
    const error = (await installAgentCli(options({ version: "../1" })).catch((e: unknown) => e)) as TestkitError;
    expect(error.code).toBe("E_TESTKIT_BAD_OPTION");
  });
});
