// The workspace's published packages and the checks on them that need no registry (run by the
// release rehearsal before it starts anything).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { testedWith } from "./usage-blocks.mjs";

/**
 * Workspace packages (packages/*, apps/*) that are published: not private.
 * @param {string} root
 * @returns {{ dir: string, name: string, manifest: Record<string, any> }[]}
 */
export function publicPackages(root) {
  const found = [];
  for (const group of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const file = join(root, group, name, "package.json");
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, "utf8"));
      if (manifest.private) continue;
      found.push({ dir: `${group}/${name}`, name: manifest.name, manifest });
    }
  }
  return found;
}

/**
 * What must hold in the repository before a release can be rehearsed: built, publishConfig with
 * provenance, the root LICENSE copied, a README with its "Tested with:" line matching
 * docs/CONTRACT.md's version and the pinned Claude Code.
 * @param {string} root
 * @param {{ dir: string, name: string, manifest: Record<string, any> }[]} pkgs
 * @returns {string[]}
 */
export function sourceProblems(root, pkgs) {
  const license = readFileSync(join(root, "LICENSE"), "utf8");
  const contractFile = join(root, "docs", "CONTRACT.md");
  const contract = existsSync(contractFile)
    ? /^Contract version:\s*([\w.-]+)/m.exec(readFileSync(contractFile, "utf8"))?.[1]
    : undefined;
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const claudeCode = rootManifest.devDependencies?.["@anthropic-ai/claude-code"];
  const problems = [];
  for (const pkg of pkgs) {
    const at = (/** @type {string} */ text) => problems.push(`${pkg.name} (${pkg.dir}): ${text}`);
    const dist = join(root, pkg.dir, "dist");
    if (!existsSync(dist) || readdirSync(dist).length === 0) {
      at("no dist/. Fix: build first (`pnpm exec turbo run build`; `npm test` builds before the rehearsal)");
    }
    if (pkg.manifest.publishConfig?.provenance !== true || pkg.manifest.publishConfig?.access !== "public") {
      at('publishConfig must be { "access": "public", "provenance": true }');
    }
    const own = join(root, pkg.dir, "LICENSE");
    if (!existsSync(own)) at(`no LICENSE. Fix: cp LICENSE ${pkg.dir}/LICENSE`);
    else if (readFileSync(own, "utf8") !== license) at("LICENSE differs from the root LICENSE. Fix: copy the root one");
    const readme = join(root, pkg.dir, "README.md");
    if (!existsSync(readme)) {
      at("no README.md");
      continue;
    }
    const tested = testedWith(readFileSync(readme, "utf8"));
    const want = `Tested with: platform contract version ${contract ?? "<n>"} (…), Claude Code ${claudeCode}.`;
    if (!tested) at(`README has no "Tested with:" line. Fix: add \`${want}\``);
    else if ((contract && tested.contract !== contract) || tested.claudeCode !== claudeCode) {
      at(
        `README says contract ${tested.contract} / Claude Code ${tested.claudeCode}. Fix: \`${want}\` (or test with those)`,
      );
    }
  }
  return problems;
}
