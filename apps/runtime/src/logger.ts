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

export function redactText(text: string): string {
  return text.replace(SECRET_TEXT, (_m, bearer: string | undefined, key: string | undefined) =>
    bearer ? `${bearer}[redacted]` : `${key ?? ""}…[redacted]`,
  );
}

export interface CreateLoggerOptions {
  level?: string;
  pretty?: boolean;
  /** Where lines go (default stdout). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: CreateLoggerOptions = {}): pino.Logger {
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { service: "molecule-runtime" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss" } },
    });
  }
  return options.destination
    ? pino(base, options.destination as pino.DestinationStream)
    : pino(base, pino.destination({ fd: 1, sync: false }));
}
