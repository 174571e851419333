// Word characters on either side mean the marker is part of a longer word ("unauthorizedly").
const PHRASES =
  /(?<![A-Za-z0-9_])(?:not logged in|please run \/login|invalid api key|invalid bearer token|authentication_error|authentication_failed|unauthorized)(?![A-Za-z0-9_])/i;
// A standalone 401: not part of a longer number, word ("401k") or decimal ("1.401", "401.5").
const STATUS_401 = /(?<![A-Za-z0-9_]|\d\.)401(?![A-Za-z0-9_]|\.\d)/;

/**
 * True when an agent's output says it is not authenticated: "not logged in", "please run /login",
 * "invalid api key", "invalid bearer token", "authentication_error" (and the stream-json kind
 * "authentication_failed"), "unauthorized", or a standalone `401` — any case, on word boundaries.
 * Never throws; anything but a string is false.
 */
export function isAuthFailureText(text: unknown): boolean {
  if (typeof text !== "string" || text === "") return false;
  return PHRASES.test(text) || STATUS_401.test(text);
}
