// pino-pretty is an optional peer of @molecule/runtime: `pretty` loads it when installed, and
// without it the daemon says how to get it and logs JSON. Runs the BUILT package in a child process.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { removeDir, runProcess, tempDir } from "@molecule/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
const SCRIPT = `
import { createLogger } from ${JSON.stringify(DIST)};
createLogger({ pretty: true }).info({ event: "demo" }, "hello pretty");
`;
// Makes `pino-pretty` unresolvable, as in an install without the optional peer.
const WITHOUT_PRETTY = `
const Module = require("node:module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "pino-pretty") throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};
`;

let dir: string;
beforeAll(async () => {
  dir = await tempDir("runtime-pretty-");
  await writeFile(join(dir, "log.mjs"), SCRIPT);
  await writeFile(join(dir, "without-pretty.cjs"), WITHOUT_PRETTY);
});
afterAll(() => removeDir(dir));

const env = { PATH: process.env.PATH ?? "", NO_COLOR: "1" };

describe("createLogger({ pretty: true })", () => {
  it("uses pino-pretty when it is installed", async () => {
    const result = await runProcess(process.execPath, [join(dir, "log.mjs")], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("hello pretty");
    expect(() => JSON.parse(result.stdout.trim().split("\n")[0] ?? "")).toThrow(); // not a JSON line
    expect(result.stderr).toBe("");
  });

  it("without pino-pretty: a note on stderr with the fix, and JSON lines", async () => {
    const result = await runProcess(
      process.execPath,
      ["--require", join(dir, "without-pretty.cjs"), join(dir, "log.mjs")],
      { env },
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ event: "demo", msg: "hello pretty", level: "info" });
    expect(result.stderr).toContain("npm install pino-pretty");
  });
});
