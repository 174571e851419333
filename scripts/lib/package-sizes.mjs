// docs/package-sizes.md: the committed packed/unpacked sizes of every published package, written by
// `pnpm release:rehearse --update-sizes`. The rehearsal fails when a package's packed size grew by
// more than 25 % AND more than 20 KB over it: small packages may double by a few hundred bytes,
// big ones may grow a little, but a sudden jump (a bundled dependency, shipped sources or maps)
// needs a deliberate update of the table in the same change.

export const GROWTH_RATIO = 0.25;
export const GROWTH_BYTES = 20 * 1024;

/**
 * @typedef {{ name: string, packed: number, unpacked: number, files: number }} SizeRow
 */

/**
 * The rows of the table (`| @molecule/x | 12345 | 67890 | 12 |`); other lines are ignored.
 * @param {string} markdown
 * @returns {Map<string, SizeRow>}
 */
export function parseSizes(markdown) {
  /** @type {Map<string, SizeRow>} */
  const rows = new Map();
  for (const line of markdown.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 6) continue;
    const name = cells[1].replace(/`/g, "");
    if (!/^@[\w.-]+\/[\w.-]+$/.test(name)) continue;
    const [packed, unpacked, files] = cells.slice(2, 5).map((cell) => Number(cell.replace(/[^\d]/g, "")));
    if ([packed, unpacked, files].some((n) => !Number.isFinite(n))) continue;
    rows.set(name, { name, packed, unpacked, files });
  }
  return rows;
}

/**
 * The whole docs/package-sizes.md.
 * @param {SizeRow[]} rows
 * @param {{ node: string, date: string }} context
 */
export function renderSizes(rows, context) {
  const sorted = [...rows].sort((a, b) => a.name.localeCompare(b.name));
  const lines = [
    "# Package sizes",
    "",
    "The tarballs `pnpm release:rehearse` published to its loopback registry (the tree `npm test` built),",
    `measured ${context.date} on Node ${context.node}. Sizes in bytes.`,
    "",
    `The rehearsal fails when a package's packed size grows by more than ${GROWTH_RATIO * 100} % **and** more than`,
    `${GROWTH_BYTES / 1024} KB over this table. When the growth is deliberate, rewrite the table with`,
    "`pnpm release:rehearse --update-sizes` and commit it with the change that explains it.",
    "",
    "| package | packed | unpacked | files |",
    "| --- | ---: | ---: | ---: |",
    ...sorted.map((row) => `| ${row.name} | ${row.packed} | ${row.unpacked} | ${row.files} |`),
    "",
  ];
  return lines.join("\n");
}

/**
 * Why a packed size is too big compared with the committed one, or undefined when it is fine.
 * @param {SizeRow | undefined} committed
 * @param {number} packed
 */
export function sizeProblem(committed, packed) {
  if (!committed) return undefined;
  const growth = packed - committed.packed;
  if (growth > GROWTH_BYTES && growth > committed.packed * GROWTH_RATIO) {
    const percent = Math.round((growth / committed.packed) * 100);
    return (
      `packed size ${packed} B is ${growth} B (+${percent} %) over docs/package-sizes.md (${committed.packed} B). ` +
      "Fix: find what joined the tarball (a bundled dependency, sources, maps); if it is meant, run " +
      "`pnpm release:rehearse --update-sizes` and commit docs/package-sizes.md"
    );
  }
  return undefined;
}
