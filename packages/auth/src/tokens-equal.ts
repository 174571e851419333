import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * Timing-safe comparison of two bearer tokens. Both are hashed first, so neither the content nor
 * the length of the expected token leaks through timing. Anything but two non-empty strings → false.
 */
export function tokensEqual(a: unknown, b: unknown): boolean {
  if (typeof a !== "string" || typeof b !== "string" || a === "" || b === "") return false;
  return timingSafeEqual(digest(a), digest(b));
}
