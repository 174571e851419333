const MARKER = Symbol.for("molecule.error.HeartbeatError");

export type HeartbeatErrorCode = "E_HEARTBEAT_BAD_OPTION" | "E_DELEGATION_BAD_OPTION";

/** Thrown for a refused option (bad URL, empty workspace id, jitter out of range…). */
export class HeartbeatError extends Error {
  readonly code: HeartbeatErrorCode;
  readonly [MARKER] = true;

  constructor(options: { code: HeartbeatErrorCode; message: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HeartbeatError";
    this.code = options.code;
  }

  /** True for a HeartbeatError from any installed copy of this package. */
  static isInstance(error: unknown): error is HeartbeatError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
