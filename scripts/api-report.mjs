#!/usr/bin/env node
// The committed record of every published entry point's public API.
//
//   node scripts/api-report.mjs check    (pnpm api:check)  fails when a built API differs from its report
//   node scripts/api-report.mjs update   (pnpm api:update) rewrites the reports
//   … --root <dir>                       the same on another tree (tests)
//
// One report per entry point in each published package's `exports` map, rendered from the built
// `.d.ts` by @microsoft/api-extractor (one entry point per run): `<package>/api/<name>.api.md` for
// ".", `<package>/api/<name>-<subpath>.api.md` for a subpath (e.g. wedge-test.api.md for
// "@molecule/wedge/test"). A diff in a report is what a reviewer reads to decide whether the
// changeset is major, minor or patch. Run after `pnpm build`.
//
// A report must show every public type in full, so both modes fail on an `ae-forgotten-export`
// (a public signature that names a type the entry point does not export: the report would print
// only the name, and a change to that type would leave the report unchanged). Fix: export the type
// from the package's src/index.ts, or spell it out (e.g. a literal union instead of
// `(typeof LIST)[number]`). `ae-undocumented` is not listed in the reports: api-extractor still
// marks an undocumented item `(undocumented)` beside its declaration, but the per-line warning list
// (with `.d.ts` line numbers that move on every edit) is left out, so a report's diff is the API.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";

// `--root <dir>` runs on another tree laid out like this one (the tests use a scratch copy).
const rootFlag = process.argv.indexOf("--root");
const root =
  rootFlag > 0 ? resolve(process.argv[rootFlag + 1] ?? ".") : resolve(dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2];
if (mode !== "check" && mode !== "update") {
  process.stderr.write("usage: node scripts/api-report.mjs <check|update>\n");
  process.exit(2);
}

/** Published packages: every workspace package that is not private. */
function publishedPackages() {
  const dirs = [];
  for (const group of ["packages", "apps"]) {
    if (!existsSync(join(root, group))) continue;
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      const manifest = join(dir, "package.json");
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, "utf8"));
      if (pkg.private) continue;
      dirs.push({ dir, pkg });
    }
  }
  return dirs;
}

/** The entry points of one package: subpath → its ESM `.d.ts`. */
function entryPoints({ dir, pkg }) {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (subpath === "./package.json") continue;
    const types = typeof target === "object" ? target?.import?.types : undefined;
    if (typeof types !== "string") throw new Error(`${pkg.name}: exports["${subpath}"] has no import.types`);
    const base = pkg.name.replace(/^@[^/]+\//, "");
    const suffix = subpath === "." ? "" : `-${subpath.replace(/^\.\//, "").replaceAll("/", "-")}`;
    entries.push({ subpath, dts: join(dir, types), report: `${base}${suffix}` });
  }
  return entries;
}

const tempRoot = mkdtempSync(join(tmpdir(), "molecule-api-"));
const changed = [];
let errors = 0;
let forgotten = 0;
try {
  for (const target of publishedPackages()) {
    for (const entry of entryPoints(target)) {
      const label = `${target.pkg.name}${entry.subpath === "." ? "" : entry.subpath.slice(1)}`;
      if (!existsSync(entry.dts)) {
        process.stderr.write(`api: ${label}: ${relative(root, entry.dts)} is missing; run pnpm build first\n`);
        errors += 1;
        continue;
      }
      const reportFolder = join(target.dir, "api");
      mkdirSync(reportFolder, { recursive: true });
      const config = ExtractorConfig.prepare({
        configObjectFullPath: join(target.dir, "api-extractor.json"),
        packageJsonFullPath: join(target.dir, "package.json"),
        packageJson: target.pkg,
        configObject: {
          projectFolder: target.dir,
          mainEntryPointFilePath: entry.dts,
          bundledPackages: [],
          compiler: {
            overrideTsconfig: {
              compilerOptions: {
                target: "es2022",
                module: "nodenext",
                moduleResolution: "nodenext",
                strict: true,
                skipLibCheck: true,
                types: ["node"],
              },
              include: [entry.dts],
            },
          },
          apiReport: {
            enabled: true,
            reportFileName: entry.report,
            reportFolder,
            reportTempFolder: join(tempRoot, entry.report),
            includeForgottenExports: false,
          },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          messages: {
            compilerMessageReporting: { default: { logLevel: "warning" } },
            extractorMessageReporting: {
              default: { logLevel: "none", addToApiReportFile: true },
              "ae-missing-release-tag": { logLevel: "none", addToApiReportFile: false },
              "ae-undocumented": { logLevel: "none", addToApiReportFile: false },
              "ae-forgotten-export": { logLevel: "error", addToApiReportFile: false },
            },
            tsdocMessageReporting: { default: { logLevel: "none", addToApiReportFile: false } },
          },
        },
      });
      const result = Extractor.invoke(config, {
        localBuild: mode === "update",
        showVerboseMessages: false,
        messageCallback(message) {
          if (message.messageId === "ae-forgotten-export") {
            // Say what to do, in our words (api-extractor's own line names only the symbol).
            const where = message.sourceFilePath ? `${relative(root, message.sourceFilePath)}: ` : "";
            process.stderr.write(
              `api: ${where}${message.text} — the report would hide changes to it: export it from the package's ` +
                "src/index.ts, or spell the type out (e.g. a literal union instead of `(typeof LIST)[number]`)\n",
            );
            message.handled = true;
            forgotten += 1;
            return;
          }
          // The report carries what matters; keep the console to real problems.
          if (message.logLevel !== "error" && message.logLevel !== "warning") message.handled = true;
        },
      });
      const file = relative(root, join(reportFolder, `${entry.report}.api.md`));
      if (result.apiReportChanged) changed.push(file);
      if (result.errorCount > 0) errors += result.errorCount;
      if (forgotten > 0 && result.errorCount === 0) errors += forgotten;
      forgotten = 0;
      process.stdout.write(`api: ${label.padEnd(28)} ${file}${result.apiReportChanged ? "  (changed)" : ""}\n`);
    }
  }
} finally {
  rmSync(tempRoot, { recursive: true, force: true });
}

if (errors > 0) {
  process.stderr.write(`api: ${errors} error(s)\n`);
  process.exit(1);
}
if (mode === "check" && changed.length > 0) {
  process.stderr.write(
    `\napi: the public API differs from the committed report in:\n${changed.map((f) => `  ${f}`).join("\n")}\n` +
      "If the change is intended, run `pnpm api:update`, commit the reports, and add a changeset whose bump\n" +
      "matches the diff (removed or changed export: breaking → minor before 1.0; added export: minor; none: patch).\n",
  );
  process.exit(1);
}
process.stdout.write(
  mode === "update" ? `api: ${changed.length} report(s) rewritten\n` : "api: every report matches\n",
);
