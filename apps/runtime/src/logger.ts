import pino from "pino";

/** The pino-compatible shape every @molecule package accepts. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Paths pino removes from every line: authorization headers, tokens, credentials. */
export const REDACT_PATHS = [
  "authorization",
  "Authorization",
  "*.authorization",
  "*.Authorization",
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "token",
  "*.token",
  "auth_token",
  "*.auth_token",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "apiKey",
  "*.apiKey",
  "ANTHROPIC_API_KEY",
  "*.ANTHROPIC_API_KEY",
  "CLAUDE_CODE_OAUTH_TOKEN",
  "*.CLAUDE_CODE_OAUTH_TOKEN",
  "ANTHROPIC_AUTH_TOKEN",
  "*.ANTHROPIC_AUTH_TOKEN",
  "credentials",
  "*.credentials",
  "x-api-key",
  '*["x-api-key"]',
];

/** Bearer tokens and API keys inside free text (an agent's stderr, say) are masked too. */
const SECRET_TEXT = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\b(sk-ant-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]+/g;

export interface RedactOptions {
  /** Exact secret values to mask wherever they appear (the daemon's own credentials, redact.ts). */
  known?: Iterable<string>;
  /** Known values shorter than this are left alone (default 8: a short value would mask ordinary words). */
  minLength?: number;
  /** Also mask the secret-shaped patterns (`Bearer …`, `sk-ant-…`). Default true; replies use false. */
  patterns?: boolean;
}

/**
 * Masks secrets in free text: every `known` value (longest first) and, unless `patterns: false`,
 * anything shaped like a bearer token or an Anthropic key.
 */
export function redactText(text: string, options: RedactOptions = {}): string {
  const minLength = options.minLength ?? 8;
  let out = text;
  if (options.known) {
    const values = [...new Set(options.known)].filter((v) => v.length >= minLength).sort((a, b) => b.length - a.length);
    for (const value of values) if (out.includes(value)) out = out.split(value).join("[redacted]");
  }
  if (options.patterns === false) return out;
  return out.replace(SECRET_TEXT, (_m, bearer: string | undefined, key: string | undefined) =>
    bearer ? `${bearer}[redacted]` : `${key ?? ""}…[redacted]`,
  );
}

export interface CreateLoggerOptions {
  /** pino level (default "info"). */
  level?: string;
  /**
   * Human-readable lines through pino-pretty (default false; the daemon turns it on for a TTY).
   * pino-pretty is an optional peer dependency: when it is not installed, a note goes to stderr and
   * the lines stay JSON.
   */
  pretty?: boolean;
  /** Append JSON lines to this file (mode 0600) instead of stdout. */
  file?: string;
}

/** The daemon's logger: pino JSON lines with `redact` for authorization headers, tokens and credentials. */
export function createLogger(options: CreateLoggerOptions = {}): pino.Logger {
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { service: "molecule-runtime" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.pretty) {
    // pino-pretty is an optional peer: only --pretty loads it. pino resolves it synchronously.
    try {
      return pino({
        ...base,
        transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss" } },
      });
    } catch (error) {
      if (!/unable to determine transport target/.test(error instanceof Error ? error.message : "")) throw error;
      process.stderr.write(
        "molecule-runtime: pretty logs need pino-pretty, which is not installed; logging JSON lines instead. Fix: npm install pino-pretty (beside @molecule/runtime)\n",
      );
    }
  }
  // Synchronous writes: a daemon's log volume is small, and nothing is lost when it exits.
  return pino(
    base,
    options.file
      ? pino.destination({ dest: options.file, sync: true, append: true, mode: 0o600, mkdir: true })
      : pino.destination({ fd: 1, sync: true }),
  );
}
