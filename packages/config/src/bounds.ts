import { open } from "node:fs/promises";
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, Lexer } from "yaml";

/**
 * Hard limits on what `loadConfig` accepts, so a hostile or broken config.yaml is refused quickly
 * with a clear error instead of hanging the daemon or eating gigabytes: the file size, YAML
 * aliases, nesting depth and the number of mapping keys. A real workspace config is a few KiB
 * with a few dozen keys and a depth under 5.
 */
export const CONFIG_LIMITS = Object.freeze({
  maxBytes: 1024 * 1024,
  maxAliases: 100,
  maxDepth: 64,
  maxKeys: 10_000,
});

/** One limit broken, or one duplicate key (a YAML error), with where it is. */
export interface BoundViolation {
  kind: "bytes" | "aliases" | "depth" | "keys" | "duplicate-key";
  message: string;
  /** Source offset of the node that broke it, when known. */
  offset?: number;
}

/**
 * Reads at most `maxBytes + 1` bytes of `file`: a larger file (or a device that never ends) is
 * reported as too large without being read whole.
 */
export async function readBounded(file: string, maxBytes: number): Promise<{ text: string } | { tooLarge: true }> {
  const handle = await open(file, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const buffer = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - total));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > maxBytes) return { tooLarge: true };
    return { text: Buffer.concat(chunks).toString("utf8") };
  } finally {
    await handle.close();
  }
}

/**
 * Flow collections (`[[[[…`) are nested before the parser builds anything: a linear lexer pass
 * refuses them past `maxDepth` so the parser never sees a pathological nesting.
 */
export function flowDepthViolation(text: string, maxDepth: number): BoundViolation | undefined {
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === "[" || token === "{") {
      depth += 1;
      if (depth > maxDepth) {
        return { kind: "depth", message: `nesting deeper than ${maxDepth} levels`, offset };
      }
    } else if (token === "]" || token === "}") {
      depth = Math.max(0, depth - 1);
    }
    // The lexer also yields one-character control tokens (document start, scalar marker…) that
    // are not in the source.
    if (!(token.length === 1 && token < " " && token !== "\n" && token !== "\t" && token !== "\r")) {
      offset += token.length;
    }
  }
  return undefined;
}

/**
 * Walks the parsed document once: counts mapping keys and aliases, measures nesting, and finds
 * duplicate keys (the parser's own duplicate check is quadratic in the number of keys, so it is
 * off and done here with a set per mapping).
 */
export function documentViolation(doc: Document, limits: typeof CONFIG_LIMITS): BoundViolation | undefined {
  let keys = 0;
  let aliases = 0;
  const walk = (node: unknown, depth: number): BoundViolation | undefined => {
    if (isAlias(node)) {
      aliases += 1;
      if (aliases > limits.maxAliases) {
        return { kind: "aliases", message: `more than ${limits.maxAliases} aliases`, ...offsetOf(node) };
      }
      return undefined;
    }
    if (!isMap(node) && !isSeq(node)) return undefined;
    if (depth > limits.maxDepth) {
      return { kind: "depth", message: `nesting deeper than ${limits.maxDepth} levels`, ...offsetOf(node) };
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        keys += 1;
        if (keys > limits.maxKeys) {
          return { kind: "keys", message: `more than ${limits.maxKeys} keys`, ...offsetOf(pair.key) };
        }
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key !== undefined) {
          if (seen.has(key)) {
            return {
              kind: "duplicate-key",
              message: `the key ${JSON.stringify(key)} appears twice`,
              ...offsetOf(pair.key),
            };
          }
          seen.add(key);
        }
        const inKey = walk(pair.key, depth + 1);
        if (inKey) return inKey;
        const inValue = walk(pair.value, depth + 1);
        if (inValue) return inValue;
      }
      return undefined;
    }
    for (const item of node.items) {
      const inItem = walk(item, depth + 1);
      if (inItem) return inItem;
    }
    return undefined;
  };
  return walk(doc.contents, 1);
}

function offsetOf(node: unknown): { offset?: number } {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return typeof range?.[0] === "number" ? { offset: range[0] } : {};
}

/** 1-based line and column of a source offset. */
export function positionOf(text: string, offset: number | undefined): { line?: number; column?: number } {
  if (offset === undefined) return {};
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line: before.split("\n").length, column: offset - lineStart + 1 };
}
