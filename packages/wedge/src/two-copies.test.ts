import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Two copies of the *packed* package, installed as an adapter and the daemon would have them:
// one loaded through its ESM build with import(), the other through its CJS build with require(),
// in one child node process. They must share one wedge flag.

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let work: string;
let copyA: string; // loaded as ESM
let copyB: string; // loaded as CJS

function installCopy(tarball: string, into: string, version: string): string {
  const dir = join(into, "node_modules", "@molecule", "wedge");
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", dir, "--strip-components=1"]);
  const pkgFile = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as Record<string, unknown>;
  pkg.version = version; // as if an adapter pinned another release
  writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  return dir;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "wedge-two-copies-"));
  const out = execFileSync("npm", ["pack", "--silent", "--pack-destination", work], {
    cwd: pkgDir,
    encoding: "utf8",
  });
  const tarball = join(work, out.trim().split("\n").pop() ?? "");
  copyA = installCopy(tarball, join(work, "daemon"), "1.0.0");
  copyB = installCopy(tarball, join(work, "adapter"), "0.9.0");
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function runChild(prelude: string, body: string): Record<string, unknown> {
  const script = `
    const { createRequire } = require("node:module");
    const { pathToFileURL } = require("node:url");
    (async () => {
      ${prelude}
      const esm = await import(pathToFileURL(${JSON.stringify(join(copyA, "dist", "index.js"))}).href);
      const adapterRequire = createRequire(${JSON.stringify(join(work, "adapter", "index.js"))});
      const cjsPath = adapterRequire.resolve("@molecule/wedge");
      if (!cjsPath.startsWith(${JSON.stringify(copyB)}) || !cjsPath.endsWith(".cjs")) throw new Error("wrong copy: " + cjsPath);
      const cjs = adapterRequire("@molecule/wedge");
      if (esm === cjs || esm.markWedged === cjs.markWedged) throw new Error("not two copies");
      const out = {};
      ${body}
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
  `;
  const file = join(work, `child-${Math.random().toString(36).slice(2)}.cjs`);
  writeFileSync(file, script);
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: "utf8" })) as Record<string, unknown>;
}

describe("two installed copies in one process (ESM import + CJS require)", () => {
  it("marks, clears, listeners and scopes are seen both ways", () => {
    const out = runChild(
      "",
      `
      const esmEvents = []; const cjsEvents = [];
      esm.onWedgeChange((s) => esmEvents.push([s.wedged, s.reason]));
      cjs.onWedgeChange((s) => cjsEvents.push([s.wedged, s.reason]));
      esm.markWedged("marked by esm");
      out.cjsSeesEsmMark = [cjs.isWedged(), cjs.wedgeReason()];
      cjs.markWedged("ignored: first write wins");
      out.afterSecondMark = esm.wedgeReason();
      cjs.clearWedge();
      out.esmSeesCjsClear = esm.isWedged();
      cjs.markWedged("marked by cjs", { code: "E_CJS" });
      out.esmSeesCjsCode = esm.wedgeState().code;
      esm.clearWedge();
      const scopeEsm = esm.createWedgeScope("executor");
      const scopeCjs = cjs.createWedgeScope("executor");
      scopeCjs.mark("scope marked by cjs");
      out.scopeSeenByEsm = [scopeEsm.isWedged(), scopeEsm.reason(), esm.wedgeReason()];
      scopeEsm.clear();
      out.scopeClearedSeenByCjs = [scopeCjs.isWedged(), cjs.isWedged()];
      out.esmEvents = esmEvents; out.cjsEvents = cjsEvents;
      out.sameErrorIdentity = (() => { try { esm.markWedged(""); } catch (e) { return cjs.WedgeError.isInstance(e); } })();
      `,
    );
    expect(out.cjsSeesEsmMark).toEqual([true, "marked by esm"]);
    expect(out.afterSecondMark).toBe("marked by esm");
    expect(out.esmSeesCjsClear).toBe(false);
    expect(out.esmSeesCjsCode).toBe("E_CJS");
    expect(out.scopeSeenByEsm).toEqual([true, "scope marked by cjs", "scope marked by cjs"]);
    expect(out.scopeClearedSeenByCjs).toEqual([false, false]);
    const expected = [
      [true, "marked by esm"],
      [false, ""],
      [true, "marked by cjs"],
      [false, ""],
      [true, "scope marked by cjs"],
      [false, ""],
    ];
    expect(out.esmEvents).toEqual(expected);
    expect(out.cjsEvents).toEqual(expected);
    expect(out.sameErrorIdentity).toBe(true);
  });

  it("adopts a state an older version of the shape left on globalThis, in place", () => {
    const out = runChild(
      `
      const oldListenerCalls = [];
      const legacy = { wedged: true, reason: "wedged by an old copy", since: 1700000000000,
                       listeners: new Set([(s) => oldListenerCalls.push(s.wedged)]) };
      globalThis[Symbol.for("@molecule/wedge")] = legacy;
      `,
      `
      out.esmSees = [esm.isWedged(), esm.wedgeReason(), esm.wedgeState().since.getTime()];
      out.cjsSees = [cjs.isWedged(), cjs.wedgeReason()];
      cjs.clearWedge();
      const now = globalThis[Symbol.for("@molecule/wedge")];
      out.sameObject = now === legacy;
      out.legacyMirror = [legacy.wedged, legacy.reason, legacy.version];
      out.oldListenerCalls = [...oldListenerCalls];
      esm.markWedged("new reason");
      out.legacyMirrorAfterMark = [legacy.wedged, legacy.reason];
      `,
    );
    expect(out.esmSees).toEqual([true, "wedged by an old copy", 1700000000000]);
    expect(out.cjsSees).toEqual([true, "wedged by an old copy"]);
    expect(out.sameObject).toBe(true);
    expect(out.legacyMirror).toEqual([false, "", 2]);
    expect(out.oldListenerCalls).toEqual([false]);
    expect(out.legacyMirrorAfterMark).toEqual([true, "new reason"]);
  });

  it("replaces a non-object squatting on the key instead of crashing", () => {
    const out = runChild(
      `globalThis[Symbol.for("@molecule/wedge")] = "garbage";`,
      `esm.markWedged("ok"); out.seen = cjs.wedgeReason();`,
    );
    expect(out.seen).toBe("ok");
  });
});
