import { lstat, readdir, readFile, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoCode } from "@molecule/internal";

// A bearer token goes into an HTTP header: visible ASCII only (the token store's own rule).
const HEADER_SAFE = /^[\x21-\x7e]+$/;

/** A token a killed save left in its temp file. @internal */
export interface StrandedToken {
  token: string;
  file: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The temp-file name pattern of the durable write (`@molecule/internal`'s `atomicTempPath`):
 * `.auth_token` → `.auth_token.<pid>.<hex>.tmp`, beside the token file. @internal
 */
export function strandedPattern(tokenFile: string): RegExp {
  const base = basename(tokenFile);
  const dotted = base.startsWith(".") ? base : `.${base}`;
  return new RegExp(`^${escapeRegExp(dotted)}\\.\\d+\\.[0-9a-f]+\\.tmp$`);
}

/**
 * The temp files a save killed between write and rename left beside `tokenFile`: every one found
 * (`files`, to clean up) and the complete tokens among them, newest first, without duplicates.
 * Complete means the whole line the store writes (`<token>\n`): a torn write is never tried. @internal
 */
export async function findStrandedTokens(tokenFile: string): Promise<{ files: string[]; tokens: StrandedToken[] }> {
  const dir = dirname(tokenFile);
  const pattern = strandedPattern(tokenFile);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => pattern.test(name));
  } catch {
    return { files: [], tokens: [] };
  }
  const found: Array<StrandedToken & { mtimeMs: number }> = [];
  const files: string[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const info = await lstat(file);
      if (!info.isFile() || info.size > 4_096) continue;
      files.push(file);
      const text = await readFile(file, "utf8");
      const token = text.trim();
      if (!text.endsWith("\n") || token === "" || !HEADER_SAFE.test(token)) continue;
      found.push({ token, file, mtimeMs: info.mtimeMs });
    } catch {
      // gone or unreadable: not a candidate
    }
  }
  found.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const seen = new Set<string>();
  const tokens: StrandedToken[] = [];
  for (const { token, file } of found) {
    if (seen.has(token)) continue;
    seen.add(token);
    tokens.push({ token, file });
  }
  return { files, tokens };
}

/** Removes the stranded temp files; returns the errno codes of those that could not be removed. @internal */
export async function removeStranded(files: readonly string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const file of files) {
    try {
      await unlink(file);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== "ENOENT") failures.push(code ?? "error");
    }
  }
  return failures;
}
