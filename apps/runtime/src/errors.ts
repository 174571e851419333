import type { PreflightReport } from "@molecule/preflight";

const MARKER = Symbol.for("molecule.error.RuntimeError");

export type RuntimeErrorCode =
  | "E_PREFLIGHT"
  | "E_LISTEN"
  | "E_SELF_PROBE"
  | "E_REGISTER"
  | "E_TOKEN_READONLY"
  | "E_BOOT_ABORTED"
  | "E_A2A_UNAUTHENTICATED"
  | "E_A2A_AUTH_TOKEN_FILE";

/** Boot failures: the message is what to print (for E_PREFLIGHT, the rendered report); exit 1. */
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  readonly report: PreflightReport | undefined;
  readonly [MARKER] = true;

  constructor(options: { code: RuntimeErrorCode; message: string; report?: PreflightReport; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RuntimeError";
    this.code = options.code;
    this.report = options.report;
  }

  static isInstance(error: unknown): error is RuntimeError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** The message of anything thrown (with its errno code when the message lacks it): the one in `@molecule/internal`. */
export { errorText } from "@molecule/internal";
