/**
 * Session ids are UUID-like: letters, digits and `-`, 8–64 characters, starting with a letter or
 * digit (so an id can never be read as a command-line flag). Nothing else — no `*`, `?`, `/`, `.`.
 * @internal
 */
const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9-]{7,63}$/;

/** @internal */
export function isValidSessionId(id: unknown): id is string {
  return typeof id === "string" && SESSION_ID.test(id);
}

/** A short, printable form of an untrusted id for log lines. @internal */
export function printableId(id: unknown): string {
  const text = typeof id === "string" ? id : String(id);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const MISSING = /no conversation found with session id/i;
const MISSING_WITH_ID = /no conversation found with session id\s*:?\s*["'`]?([A-Za-z0-9][A-Za-z0-9-]*)/i;

/**
 * True when the agent's output says the resumed session does not exist
 * (Claude Code: `No conversation found with session ID: <id>`, any case). Never throws.
 */
export function isMissingSessionError(text: unknown): boolean {
  return typeof text === "string" && MISSING.test(text);
}

/** The session id named in a "No conversation found with session ID: <id>" text, or `undefined`. Never throws. */
export function sessionIdFromError(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  const id = MISSING_WITH_ID.exec(text)?.[1];
  return isValidSessionId(id) ? id : undefined;
}
