import { createMasker, type Masker } from "@molecule/internal";
import { oneLine } from "./types.js";

/** How much of an answer is looked at for an excerpt: far more than is quoted, so masking sees whole tokens. */
const WINDOW = 4_096;
/** A token's characters (base64url, hex, JWT parts): a run of them at a cut may be a token's start. */
const TOKEN_TAIL = /[A-Za-z0-9._~+/=-]+$/;

/**
 * What the platform said, as one line of at most `max` characters fit for a log line or an error:
 * the text is flattened and masked (the tokens in `values` — the one we sent — and every generic
 * secret shape, the platform's 43-character tokens included) BEFORE it is cut, so a cut never leaves
 * part of a token the shapes no longer recognise; a token cut by the look-at window is dropped whole.
 * @internal
 */
export function maskedExcerpt(text: string, max: number, masker: Masker = createMasker()): string {
  let flat = oneLine(text.slice(0, WINDOW), WINDOW);
  if (text.length > WINDOW) flat = flat.replace(TOKEN_TAIL, "");
  const masked = masker.mask(flat);
  const chars = Array.from(masked);
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : masked;
}
