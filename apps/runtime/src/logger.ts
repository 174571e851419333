import { AGENTS } from "@molecule/auth";
import { REDACTED } from "@molecule/internal";
import pino from "pino";

/** The pino-compatible shape every @molecule package accepts. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Every agent's credential env vars, from the registry (`ANTHROPIC_API_KEY`, `CODEX_API_KEY`, …). */
const CREDENTIAL_ENV = [...new Set(AGENTS.flatMap((agent) => agent.credentialEnv))];

/**
 * Paths pino removes from every line: authorization headers, tokens, credentials, and every agent's
 * credential env vars (a logged env object). Free text is masked by `maskingLogger` (redact.ts).
 */
export const REDACT_PATHS: readonly string[] = [
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
  ...CREDENTIAL_ENV.flatMap((name) => [name, `*.${name}`]),
  "credentials",
  "*.credentials",
  "x-api-key",
  '*["x-api-key"]',
];

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
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
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
