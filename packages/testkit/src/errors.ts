const MARKER = Symbol.for("molecule.error.TestkitError");

export type TestkitErrorCode =
  | "E_TESTKIT_UNKNOWN_WORKSPACE"
  | "E_TESTKIT_WAIT_TIMEOUT"
  | "E_TESTKIT_BAD_OPTION"
  | "E_TESTKIT_CLOSED"
  | "E_TESTKIT_A2A_FAILED"
  | "E_AGENT_INSTALL_FAILED";

/** The one error class of `@molecule/testkit`; `code` says what went wrong. */
export class TestkitError extends Error {
  readonly code: TestkitErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: TestkitErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TestkitError";
    this.code = options.code;
  }

  /** True for a TestkitError from any installed copy of this package. */
  static isInstance(error: unknown): error is TestkitError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
