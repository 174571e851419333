// Tests of the release rehearsal's pure parts (node:test; `node --test scripts/lib/`): the README
// extraction, the tarball rules, the size table and the workflow pin rule. The rehearsal itself runs
// end to end in `npm test`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pinProblems } from "./lint-workflows.mjs";
import { parseSizes, renderSizes, sizeProblem } from "./package-sizes.mjs";
import { readTarball, tarballProblems, unresolvedRanges } from "./tarball.mjs";
import { codeBlocks, installCommands, testedWith, usageBlocks } from "./usage-blocks.mjs";

const README = [
  "# @molecule/x",
  "",
  "Tested with: platform contract version 1 ([docs](x)), Claude Code 2.1.197.",
  "",
  "## Install",
  "",
  "```sh",
  "npm install @molecule/x @molecule/auth",
  "# or: pnpm add @molecule/x",
  "npm install -D @molecule/testkit  # for tests",
  "npm install -g \\",
  "  @molecule/x",
  "```",
  "",
  "## Usage",
  "",
  "```ts usage",
  'import { x } from "@molecule/x";',
  "",
  "````md",
  "not a fence end: ```",
  "````",
  "```",
  "",
  "```ts",
  "notMarked();",
  "```",
  "",
  "## Other",
  "",
  "```sh",
  "npm install not-in-the-install-section",
  "```",
].join("\n");

test("usage blocks are the ts/js fences marked `usage`, in order, with their line", () => {
  const blocks = usageBlocks(README);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0].index, 1);
  assert.equal(blocks[0].line, 17);
  assert.match(blocks[0].code, /^import \{ x \} from "@molecule\/x";/);
  assert.match(blocks[0].code, /not a fence end/); // a longer inner fence does not close it early
  assert.equal(codeBlocks(README).length, 4);
});

test("install commands come from the Install section only, with flags and continuations", () => {
  const commands = installCommands(README);
  assert.deepEqual(
    commands.map((c) => [c.packages, c.dev, c.global]),
    [
      [["@molecule/x", "@molecule/auth"], false, false],
      [["@molecule/testkit"], true, false],
      [["@molecule/x"], false, true],
    ],
  );
  assert.deepEqual(commands[1].argv, ["npm", "install", "-D", "@molecule/testkit"]);
  assert.deepEqual(installCommands("# x\n\n```sh\nnpm install a\n```\n"), []);
});

test("the tested-with line gives the contract and Claude Code versions", () => {
  assert.deepEqual(testedWith(README), { contract: "1", claudeCode: "2.1.197" });
  assert.equal(testedWith("Tested with Claude Code 2.1.197"), undefined);
});

/** Packs `files` (path → content) under package/ with the system tar. */
function tgz(files) {
  const dir = mkdtempSync(join(tmpdir(), "tarball-test-"));
  try {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, "package", path, ".."), { recursive: true });
      writeFileSync(join(dir, "package", path), content);
    }
    execFileSync("tar", ["-czf", join(dir, "p.tgz"), "-C", dir, "package"]);
    return readFileSync(join(dir, "p.tgz"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const GOOD = {
  "package.json": JSON.stringify({
    name: "@molecule/x",
    version: "0.1.0",
    dependencies: { "@molecule/auth": "^0.1.0" },
  }),
  LICENSE: "MIT",
  "README.md": "# x",
  "dist/index.js": "export {};",
  "dist/index.d.ts": "export {};",
};

test("a good tarball has no problems; sizes and files are counted", () => {
  const tarball = readTarball(tgz(GOOD));
  assert.deepEqual(tarballProblems(tarball, { name: "@molecule/x", version: "0.1.0" }), []);
  assert.equal(tarball.files.length, 5);
  assert.equal(
    tarball.unpackedSize,
    Object.values(GOOD).reduce((sum, content) => sum + content.length, 0),
  );
  assert.equal(tarball.manifest?.name, "@molecule/x");
});

test("missing LICENSE/README, sources, tests and workspace: ranges are each reported", () => {
  const bad = {
    "package.json": JSON.stringify({
      name: "@molecule/x",
      version: "0.1.0",
      dependencies: { "@molecule/a": "workspace:^" },
    }),
    "src/index.ts": "export {};",
    "dist/index.test.js": "",
    "dist/deep/path/that/is/long/enough/to/need/the/ustar/prefix/field/of/a/tar/header/index.js": "",
  };
  const tarball = readTarball(tgz(bad));
  const problems = tarballProblems(tarball, { name: "@molecule/x", version: "0.2.0" }).join("\n");
  for (const expected of [
    /no LICENSE/,
    /no README/,
    /source files .*src\/index\.ts/,
    /tests .*index\.test\.js/,
    /workspace:\^/,
    /expected @molecule\/x@0\.2\.0/,
  ]) {
    assert.match(problems, expected);
  }
  assert.ok(
    tarball.files.some((file) => file.path.endsWith("/header/index.js")),
    "long paths are read whole",
  );
});

test("a @molecule range no published version satisfies is reported; others are not", () => {
  const semver = { satisfies: (version, range) => range === `^${version}` };
  const published = new Map([["@molecule/auth", ["0.1.0"]]]);
  assert.deepEqual(
    unresolvedRanges({ dependencies: { "@molecule/auth": "^0.1.0", zod: "^4" } }, published, semver),
    [],
  );
  const [problem] = unresolvedRanges({ dependencies: { "@molecule/internal": "0.0.0" } }, published, semver);
  assert.match(problem, /@molecule\/internal@0\.0\.0 resolves to nothing .*not published at all/);
});

test("the size table round-trips and fails growth over 25 % and over 20 KB only", () => {
  const table = renderSizes([{ name: "@molecule/x", packed: 100_000, unpacked: 300_000, files: 9 }], {
    node: "v20",
    date: "2026-11-25",
  });
  const rows = parseSizes(table);
  assert.deepEqual(rows.get("@molecule/x"), { name: "@molecule/x", packed: 100_000, unpacked: 300_000, files: 9 });
  const row = rows.get("@molecule/x");
  assert.equal(sizeProblem(row, 124_000), undefined); // +24 %
  assert.equal(sizeProblem(undefined, 10_000_000), undefined); // a new package
  assert.match(sizeProblem(row, 126_000) ?? "", /\+26 %/);
  const small = { name: "@molecule/s", packed: 10_000, unpacked: 1, files: 1 };
  assert.equal(sizeProblem(small, 30_000), undefined); // +200 % but only 20,000 B
  assert.match(sizeProblem(small, 31_000) ?? "", /over docs\/package-sizes\.md/);
});

test("remote actions must be pinned by a full SHA with a version comment", () => {
  const sha = "3d3c42e5aac5ba805825da76410c181273ba90b1";
  const workflow = [
    `      - uses: actions/checkout@${sha} # v7.0.1`,
    "      - uses: actions/setup-node@v7",
    `      - uses: "actions/cache@${sha}"`,
    "      - uses: ./.github/actions/local",
    "    uses: docker://alpine:3",
  ].join("\n");
  const problems = pinProblems(workflow, "ci.yml");
  assert.deepEqual(
    problems.map((p) => p.line),
    [2, 3],
  );
  assert.match(problems[0].message, /not pinned by a full commit SHA/);
  assert.match(problems[1].message, /no version comment/);
});
