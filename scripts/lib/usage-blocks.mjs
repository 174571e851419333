// The README code the project runs, so the docs cannot drift from the packages:
// - usage blocks: a package README's main example is fenced ```ts usage (or ```js usage). The release
//   rehearsal type-checks and runs each one against the published package; the adapter examples'
//   tests run the same blocks.
// - install commands: the `npm install …` lines of the README's "Install" section, the exact
//   command a user copies.
import { readFileSync } from "node:fs";

/**
 * @typedef {{ lang: string, meta: string[], code: string, line: number }} CodeBlock
 *   `line` is the 1-based line of the opening fence; `meta` the words after the language.
 * @typedef {CodeBlock & { index: number }} UsageBlock
 * @typedef {{ line: string, argv: string[], packages: string[], dev: boolean, global: boolean }} InstallCommand
 */

/**
 * Every fenced code block (``` or ~~~, any length ≥ 3) of a markdown text, in order.
 * @param {string} markdown
 * @returns {CodeBlock[]}
 */
export function codeBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  /** @type {CodeBlock[]} */
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const [, fence, lang, info] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      body.push(lines[j]);
    }
    blocks.push({
      lang: lang.toLowerCase(),
      meta: info.trim().split(/\s+/).filter(Boolean),
      code: body.join("\n"),
      line: i + 1,
    });
    i = j;
  }
  return blocks;
}

/**
 * The blocks marked as runnable usage: language ts/typescript/js/javascript/mjs and the word
 * `usage` after it. `index` counts them from 1.
 * @param {string} markdown
 * @returns {UsageBlock[]}
 */
export function usageBlocks(markdown) {
  return codeBlocks(markdown)
    .filter((b) => ["ts", "typescript", "js", "javascript", "mjs"].includes(b.lang) && b.meta.includes("usage"))
    .map((b, i) => ({ ...b, index: i + 1 }));
}

/**
 * The `npm install` / `npm i` / `npm add` commands in the shell blocks of the README's first section
 * whose heading contains "Install". Comment lines and other commands are ignored; `\` continuations
 * are joined. Flags are kept in `argv`; `packages` are the package specs.
 * @param {string} markdown
 * @returns {InstallCommand[]}
 */
export function installCommands(markdown) {
  const section = installSection(markdown);
  if (section === undefined) return [];
  /** @type {InstallCommand[]} */
  const commands = [];
  for (const block of codeBlocks(section)) {
    if (!["sh", "bash", "shell", "console", ""].includes(block.lang)) continue;
    const joined = block.code.replace(/\\\n\s*/g, " ");
    for (const raw of joined.split("\n")) {
      const line = raw.replace(/^\s*\$\s+/, "").trim();
      if (!/^npm\s+(install|i|add)(\s|$)/.test(line)) continue;
      const argv = line.replace(/\s+#.*$/, "").split(/\s+/);
      const rest = argv.slice(2);
      commands.push({
        line,
        argv,
        packages: rest.filter((arg) => !arg.startsWith("-")),
        dev: rest.some((arg) => arg === "-D" || arg === "--save-dev"),
        global: rest.some((arg) => arg === "-g" || arg === "--global"),
      });
    }
  }
  return commands;
}

/**
 * The text of the first section whose heading contains "install" (case-insensitive), up to the
 * next heading of the same or a higher level; undefined when there is none.
 * @param {string} markdown
 */
export function installSection(markdown) {
  const lines = markdown.split(/\r?\n/);
  let inFence = false;
  let start = -1;
  let level = 0;
  for (let i = 0; i < lines.length; i++) {
    if (/^ {0,3}(`{3,}|~{3,})/.test(lines[i])) inFence = !inFence;
    if (inFence) continue;
    const heading = /^(#{1,6})\s+(.*)$/.exec(lines[i]);
    if (!heading) continue;
    if (start === -1) {
      if (/install/i.test(heading[2])) {
        start = i;
        level = heading[1].length;
      }
    } else if (heading[1].length <= level) {
      return lines.slice(start, i).join("\n");
    }
  }
  return start === -1 ? undefined : lines.slice(start).join("\n");
}

/**
 * Reads a README and returns its usage blocks and install commands.
 * @param {string} file
 */
export function readReadme(file) {
  const markdown = readFileSync(file, "utf8");
  return { markdown, usage: usageBlocks(markdown), install: installCommands(markdown) };
}

/**
 * The README's "Tested with:" line: `Tested with: platform contract version 1 (…), Claude Code 2.1.197.`
 * @param {string} markdown
 * @returns {{ contract: string, claudeCode: string } | undefined}
 */
export function testedWith(markdown) {
  const match = /^Tested with: platform contract version ([\w.-]+)\b.*?Claude Code (\d+\.\d+\.\d+)/m.exec(markdown);
  return match ? { contract: match[1], claudeCode: match[2] } : undefined;
}
