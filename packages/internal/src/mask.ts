/**
 * The one secret masker every @molecule package uses for log lines, errors and excerpts of what a
 * platform or an agent said. It ships the generic token shapes; the exact values a caller knows
 * (its platform token, the agents' credentials) and any extra shapes are its input, so a package can
 * feed it what the agent registry names without depending on it.
 */

/** What a masked secret becomes. */
export const REDACTED = "[redacted]";

/** Names whose `NAME=value` / `"NAME": "value"` assignments are secrets, whatever the agent. */
const SECRET_NAME =
  "[A-Za-z0-9_.-]*(?:api[_-]?key|auth[_-]?token|access[_-]?token|refresh[_-]?token|token|secret|password|passwd|credentials?)";

/** An assignment `name=value`, `name: value`, `"name": "value"`; group 1 keeps the name and the separator. */
function assignment(name: string): RegExp {
  return new RegExp(String.raw`(\b${name}["']?\s*[=:]\s*["']?)[^\s"'&,;()[\]{}]{8,}`, "gi");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The generic token shapes, in the order they are applied. Each keeps a harmless prefix (the
 * `Bearer ` word, the first characters of a key, an assignment's name) so a reader still sees
 * what was there.
 */
const BUILT_IN: ReadonlyArray<readonly [RegExp, (match: string, ...groups: string[]) => string]> = [
  // `Authorization: Bearer …` (an echoed header, a curl line in an agent's stderr).
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, (_m, bearer) => `${bearer}${REDACTED}`],
  // Anthropic and OpenAI-style keys: `sk-ant-api03-…`, `sk-proj-…`, `sk-…`; the first 6 characters stay.
  [/\b(sk-ant-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]+/g, (_m, key) => `${key}…${REDACTED}`],
  [/\b(sk-[A-Za-z0-9]{2})[A-Za-z0-9_-]{18,}/g, (_m, key) => `${key}…${REDACTED}`],
  // JWTs (OAuth access tokens, id tokens): three base64url parts, the first two JSON objects.
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, () => REDACTED],
  // Secret-named assignments: `api_key=…`, `"accessToken": "…"`, `X_AUTH_TOKEN: …`.
  [assignment(SECRET_NAME), (_m, head) => `${head}${REDACTED}`],
  // A platform token: 32 random bytes as base64url (43 characters, mixed case and digits).
  [
    /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]{0,42}[A-Z])(?=[A-Za-z0-9_-]{0,42}[a-z])(?=[A-Za-z0-9_-]{0,42}[0-9])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g,
    () => REDACTED,
  ],
];

export interface MaskerOptions {
  /**
   * Exact secret values to mask wherever they appear, longest first. Read at every `mask` call, so
   * a live `Set` the caller keeps adding to works.
   */
  values?: Iterable<string | undefined>;
  /** Known values shorter than this are left alone (default 8: a short value would mask ordinary words). */
  minLength?: number;
  /**
   * Variable names whose assignments (`NAME=value`, `"NAME": "value"`) are masked besides the
   * secret-named ones: an agent's credential env vars from the registry, say.
   */
  names?: readonly string[];
  /** Extra shapes to mask; each match becomes `[redacted]`. Made global when they are not. */
  patterns?: readonly RegExp[];
  /**
   * Also mask the generic token shapes (bearer headers, `sk-…` keys, JWTs, platform tokens,
   * secret-named assignments) and `names`/`patterns`. Default true; `false` masks the known values
   * only, for text a user asked for (an agent's reply may rightly hold a key-shaped example).
   */
  shapes?: boolean;
}

/** Masks secrets in free text. */
export interface Masker {
  mask(text: string): string;
}

/** A masker for `options` (see {@link MaskerOptions}); `mask` never throws. */
export function createMasker(options: MaskerOptions = {}): Masker {
  const minLength = options.minLength ?? 8;
  const shapes = options.shapes !== false;
  const named =
    options.names && options.names.length > 0
      ? assignment(`(?:${options.names.map(escapeRegExp).join("|")})`)
      : undefined;
  const extra = (options.patterns ?? []).map((p) => (p.global ? p : new RegExp(p.source, `${p.flags}g`)));
  return {
    mask(text) {
      let out = text;
      if (options.values) {
        const values = [...new Set(options.values)]
          .filter((v): v is string => typeof v === "string" && v.length >= minLength)
          .sort((a, b) => b.length - a.length);
        for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED);
      }
      if (!shapes) return out;
      if (named) out = out.replace(named, (_m, head: string) => `${head}${REDACTED}`);
      for (const [pattern, replace] of BUILT_IN) out = out.replace(pattern, replace as (m: string) => string);
      for (const pattern of extra) out = out.replace(pattern, REDACTED);
      return out;
    },
  };
}
