const MARKER = Symbol.for("molecule.error.PreflightError");

export type PreflightErrorCode =
  | "E_PREFLIGHT_BAD_CHECK"
  | "E_PREFLIGHT_DUPLICATE_CHECK"
  | "E_PREFLIGHT_BAD_OPTIONS"
  | "E_PREFLIGHT_UNKNOWN_CHECK";

/**
 * Thrown for a programming error: a check without a name or run function, two checks with one
 * name, or `workspaceChecks` options naming a check that does not exist.
 */
export class PreflightError extends TypeError {
  readonly code: PreflightErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: PreflightErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PreflightError";
    this.code = options.code;
  }

  /** True for a PreflightError from any installed copy of this package. */
  static isInstance(error: unknown): error is PreflightError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
