import type { Io } from "./io.js";

const MARKER = Symbol.for("molecule.error.CliError");

export type CliErrorCode =
  | "E_NO_DAEMON"
  | "E_ADMIN"
  | "E_SEND_TRANSPORT"
  | "E_SEND_RESPONSE"
  | "E_SEND_UNAUTHORIZED"
  | "E_SEND_TOKEN_FILE"
  | "E_DEV_EXAMPLE_MISSING"
  | "E_DEV_CLAUDE_MISSING"
  | "E_DEV_AGENT_INSTALL";

/** What a command reports (exit 1): the message says what to do and never holds a secret. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: CliErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.code = options.code;
  }

  static isInstance(error: unknown): error is CliError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A command's catch: a CliError is printed as `<prefix>: <message>` (exit 1); anything else is rethrown. */
export function reportCliError(error: unknown, io: Io, prefix = "molecule"): number {
  if (!CliError.isInstance(error)) throw error;
  io.stderr.write(`${prefix}: ${error.message}\n`);
  return 1;
}
