const MARKER = Symbol.for("molecule.error.SessionError");

/** Every code a {@link SessionError} can carry. */
export type SessionErrorCode =
  | "E_SESSION_BAD_OPTIONS"
  | "E_SESSION_UNSUPPORTED_AGENT"
  | "E_SESSION_INVALID_ID"
  | "E_SESSION_STORE_WRITE";

/**
 * The one error class of `@molecule/session`: a refused input or a store file that could not be
 * written. Reading never throws for a missing or stale transcript — that is a `reason`, not an error.
 */
export class SessionError extends Error {
  readonly code: SessionErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: SessionErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SessionError";
    this.code = options.code;
  }

  /** True for a SessionError from any installed copy of this package. */
  static isInstance(error: unknown): error is SessionError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
