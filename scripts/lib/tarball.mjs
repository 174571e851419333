// What a published npm tarball holds, read in memory (gzip + the tar headers), and the rules every
// @molecule tarball must follow.
import { gunzipSync } from "node:zlib";

/**
 * @typedef {{ path: string, size: number }} TarFile  `path` without the leading `package/`
 * @typedef {{ files: TarFile[], unpackedSize: number, manifest: Record<string, any> | undefined }} Tarball
 */

/**
 * Lists a .tgz and parses its package.json.
 * @param {Buffer} tgz
 * @returns {Tarball}
 */
export function readTarball(tgz) {
  const tar = gunzipSync(tgz);
  /** @type {TarFile[]} */
  const files = [];
  let manifest;
  let longName;
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString("utf8")
        .replace(/\0.*$/s, "");
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    const prefix = field(345, 155);
    let name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    longName = undefined;
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = body.toString("utf8").replace(/\0.*$/s, "");
      continue;
    }
    if (type === "x" || type === "g") {
      const path = /\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      if (path) longName = path[1];
      continue;
    }
    if (type !== "0" && type !== "\0") continue;
    name = name.replace(/^[^/]+\//, "");
    files.push({ path: name, size });
    if (name === "package.json") manifest = JSON.parse(body.toString("utf8"));
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { files, unpackedSize: files.reduce((sum, file) => sum + file.size, 0), manifest };
}

const DEPENDENCY_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies", "devDependencies"];

/**
 * Everything wrong with a tarball as a release artefact: no LICENSE or README, sources or tests
 * shipped, a `workspace:` range left in the manifest, a version other than the one expected.
 * @param {Tarball} tarball
 * @param {{ name: string, version: string }} expected
 * @returns {string[]}
 */
export function tarballProblems(tarball, expected) {
  const problems = [];
  const paths = tarball.files.map((file) => file.path);
  const license = tarball.files.find((file) => /^(LICEN[CS]E)(\.md|\.txt)?$/i.test(file.path));
  if (!license || license.size === 0) {
    problems.push(
      "no LICENSE in the tarball. Fix: copy the root LICENSE into the package folder (npm always packs it)",
    );
  }
  if (!paths.some((path) => /^README(\.md)?$/i.test(path))) {
    problems.push("no README.md in the tarball. Fix: add README.md to the package folder");
  }
  const sources = paths.filter((path) => path.startsWith("src/") || /(?<!\.d)\.[cm]?tsx?$/.test(path));
  if (sources.length > 0) {
    problems.push(`source files in the tarball (${sources.slice(0, 3).join(", ")}). Fix: keep "files" to dist/`);
  }
  const tests = paths.filter(
    (path) =>
      /\.(test|spec)\.[cm]?[jt]sx?(\.map)?$/.test(path) ||
      /(^|\/)__tests__\//.test(path) ||
      /(^|\/)(test-results\.json|vitest\.config\.[cm]?[jt]s)$/.test(path),
  );
  if (tests.length > 0) {
    problems.push(`tests in the tarball (${tests.slice(0, 3).join(", ")}). Fix: exclude them from the build's entries`);
  }
  const manifest = tarball.manifest;
  if (!manifest) {
    problems.push("no package.json in the tarball");
    return problems;
  }
  if (manifest.name !== expected.name || manifest.version !== expected.version) {
    problems.push(`tarball is ${manifest.name}@${manifest.version}, expected ${expected.name}@${expected.version}`);
  }
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith("workspace:")) {
        problems.push(
          `${field}.${dep} is still "${range}". Fix: publish with pnpm (it rewrites workspace: ranges), never npm`,
        );
      }
    }
  }
  return problems;
}

/**
 * Every `@molecule/*` dependency range of a published manifest that no published version satisfies.
 * @param {Record<string, any>} manifest
 * @param {Map<string, string[]>} published versions on the registry by package name
 * @param {{ satisfies: (version: string, range: string, options?: object) => boolean }} semver
 * @returns {string[]}
 */
export function unresolvedRanges(manifest, published, semver) {
  const problems = [];
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (!dep.startsWith("@molecule/")) continue;
      const versions = published.get(dep) ?? [];
      const optional = field === "peerDependencies" && manifest.peerDependenciesMeta?.[dep]?.optional;
      if (!versions.some((version) => semver.satisfies(version, String(range), { includePrerelease: true }))) {
        problems.push(
          `${field}.${dep}@${range} resolves to nothing on the registry` +
            `${versions.length ? ` (published: ${versions.join(", ")})` : " (not published at all)"}` +
            `${optional ? " (optional peer)" : ""}. Fix: depend only on published packages; inline private ones at build time`,
        );
      }
    }
  }
  return problems;
}
