import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { isRunning, REPO_ROOT, removeDir, runProcess, sinkLogger, startProcess, tempDir, waitFor } from "./index.ts";

/** Test code: `*.test.ts`, a package's own test helper module, the e2e app, this package. */
const isTestCode = (path: string) =>
  /\.test\.ts$/.test(path) ||
  /(^|\/)(test-support|testing|test-util)\.ts$/.test(path) ||
  path.startsWith("apps/e2e/") ||
  path.startsWith("packages/test-support/");

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

async function workspaceDirs(): Promise<string[]> {
  const dirs: string[] = [];
  for (const group of ["packages", "apps"]) {
    for (const entry of await readdir(join(REPO_ROOT, group), { withFileTypes: true })) {
      if (entry.isDirectory()) dirs.push(join(REPO_ROOT, group, entry.name));
    }
  }
  return dirs;
}

describe("@molecule/test-support stays out of what ships", () => {
  it("no non-test source file imports it", async () => {
    const offenders: string[] = [];
    for (const dir of await workspaceDirs()) {
      for (const file of await sourceFiles(join(dir, "src")).catch(() => [])) {
        const path = relative(REPO_ROOT, file);
        if (isTestCode(path)) continue;
        if ((await readFile(file, "utf8")).includes("@molecule/test-support")) offenders.push(path);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("is only ever a devDependency, and is private", async () => {
    const offenders: string[] = [];
    for (const dir of await workspaceDirs()) {
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
      if (manifest.name === "@molecule/test-support") {
        expect(manifest.private).toBe(true);
        continue;
      }
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
        const deps = manifest[field];
        if (deps && typeof deps === "object" && "@molecule/test-support" in deps) {
          offenders.push(`${relative(REPO_ROOT, dir)}: ${field}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe("slow tests are tagged", () => {
  it("every e2e test file is a *.slow.test.ts, so pnpm test:fast starts no daemon", async () => {
    const files = await sourceFiles(join(REPO_ROOT, "apps/e2e/src"));
    const tests = files.map((f) => relative(REPO_ROOT, f)).filter((f) => f.endsWith(".test.ts"));
    expect(tests.length).toBeGreaterThan(0);
    expect(tests.filter((f) => !f.endsWith(".slow.test.ts"))).toEqual([]);
  });
});

describe("runProcess", () => {
  it("passes exactly the env, cwd and stdin given, and collects output and exit code", async () => {
    const dir = await tempDir();
    try {
      const script =
        "let s='';process.stdin.on('data',c=>s+=c).on('end',()=>{" +
        "process.stdout.write(JSON.stringify({s,cwd:process.cwd(),x:process.env.X,home:process.env.HOME??null}));" +
        "process.stderr.write('e');process.exitCode=3})";
      const run = await runProcess(process.execPath, ["-e", script], { env: { X: "1" }, cwd: dir, input: "in" });
      expect(run).toMatchObject({ code: 3, signal: null, stderr: "e" });
      expect(JSON.parse(run.stdout)).toEqual({ s: "in", cwd: dir, x: "1", home: null });
    } finally {
      await removeDir(dir);
    }
  });

  it("kills a child that outlives timeoutMs (SIGKILL), and with killGroup its whole group", async () => {
    const hang = await runProcess(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      env: {},
      timeoutMs: 200,
    });
    expect(hang.signal).toBe("SIGKILL");
    const started = startProcess(
      process.execPath,
      [
        "-e",
        "const c=require('node:child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});" +
          "console.log(c.pid);setInterval(()=>{},1000)",
      ],
      { env: {}, timeoutMs: 500, killGroup: true },
    );
    const grandchild = Number(await waitFor(() => started.output().stdout.trim(), 5_000, 10));
    expect((await started.exited).signal).toBe("SIGKILL");
    await waitFor(() => !isRunning(grandchild), 5_000, 10);
  });
});

describe("sinkLogger", () => {
  it("keeps every call with its level, a copy of the object and the clock's time", () => {
    let t = 5;
    const sink = sinkLogger({ now: () => t });
    const obj = { event: "a.b", n: 1 };
    sink.logger.warn(obj, "careful");
    obj.n = 2;
    t = 9;
    sink.logger.debug({ event: "c.d" });
    expect(sink.lines).toEqual([
      { level: "warn", obj: { event: "a.b", n: 1 }, msg: "careful", at: 5 },
      { level: "debug", obj: { event: "c.d" }, msg: undefined, at: 9 },
    ]);
    expect(sink.events()).toEqual(["a.b", "c.d"]);
    expect(sink.text()).toBe('warn {"event":"a.b","n":1} careful\ndebug {"event":"c.d"} ');
  });
});
