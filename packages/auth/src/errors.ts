const MARKER = Symbol.for("molecule.error.AuthError");

/** Every code an `AuthError` carries. */
export type AuthErrorCode =
  | "E_AUTH_BAD_OPTIONS"
  | "E_AUTH_UNKNOWN_AGENT"
  | "E_TOKEN_EMPTY"
  | "E_TOKEN_INVALID"
  | "E_TOKEN_READ"
  | "E_TOKEN_WRITE"
  | "E_WORKSPACE_ID_EMPTY";

/**
 * The one error this package throws. `code` is stable; `message` says what to do and never
 * contains a token or credential.
 */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: AuthErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AuthError";
    this.code = options.code;
  }

  /** True for an AuthError from any installed copy of this package. */
  static isInstance(error: unknown): error is AuthError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** The errno code of a Node system error, if any. @internal */
export { errnoCode } from "@molecule/internal";
