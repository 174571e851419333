import path from "node:path";
import { nonEmpty, readSmallFile } from "./probe-util.js";

// Gemini CLI 0.61.0's settings.json and `.env` files (measured; docs/AGENTS.md), read token-free.

/** Drops `//` and `/* *\/` comments outside strings (Gemini CLI's settings.json allows them). @internal */
export function stripJsonComments(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === "\\") {
        out += text[i + 1] ?? "";
        i += 1;
      } else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i += 1;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 1;
    } else out += c;
  }
  return out;
}

/** The variables of a dotenv file (`KEY=value`, optional `export`, quotes, `#` comments). @internal */
export function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(raw);
    if (!match?.[1]) continue;
    let value = (match[2] ?? "").trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === "`") && value.lastIndexOf(quote) > 0) {
      value = value.slice(1, value.lastIndexOf(quote));
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    vars[match[1]] = value;
  }
  return vars;
}

/**
 * The `.env` file Gemini CLI loads, as it looks for one: from `cwd` upwards `.gemini/.env`
 * (trusted workspaces only) then `.env` in each directory; then `<home>/.gemini/.env` (trusted
 * only), then `<home>/.env`. The first file found wins. Undefined when there is none.
 * @internal
 */
export async function findGeminiDotenv(
  cwd: string | undefined,
  home: string,
  trusted: boolean,
): Promise<{ file: string; vars: Record<string, string> } | undefined> {
  const candidates: string[] = [];
  const inDir = (dir: string) => [...(trusted ? [path.join(dir, ".gemini", ".env")] : []), path.join(dir, ".env")];
  if (nonEmpty(cwd)) {
    let dir = path.resolve(cwd);
    for (;;) {
      candidates.push(...inDir(dir));
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  candidates.push(...inDir(home));
  for (const file of new Set(candidates)) {
    const read = await readSmallFile(file);
    if (read.kind === "text") return { file, vars: parseDotenv(read.text) };
  }
  return undefined;
}
