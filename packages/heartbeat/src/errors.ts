const MARKER = Symbol.for("molecule.error.HeartbeatError");

export type HeartbeatErrorCode =
  | "E_HEARTBEAT_BAD_OPTION"
  | "E_DELEGATION_BAD_OPTION"
  | "E_REGISTER_BAD_OPTION"
  | "E_REGISTER_REJECTED"
  | "E_REGISTER_UNAUTHORIZED"
  | "E_REGISTER_ABORTED";

/**
 * Thrown for a refused option (bad URL, empty workspace id, jitter out of range…), a `metadata()`
 * result that fails the schema at `start()`, and a registration that cannot succeed.
 */
export class HeartbeatError extends Error {
  readonly code: HeartbeatErrorCode;
  /** For `E_REGISTER_*`: the HTTP status of the platform's last answer, when there was one. */
  readonly status: number | undefined;
  /** For `E_REGISTER_*`: how many register requests were sent. */
  readonly attempts: number | undefined;
  readonly [MARKER] = true;

  constructor(options: {
    code: HeartbeatErrorCode;
    message: string;
    cause?: unknown;
    status?: number | undefined;
    attempts?: number | undefined;
  }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HeartbeatError";
    this.code = options.code;
    this.status = options.status;
    this.attempts = options.attempts;
  }

  /** True for a HeartbeatError from any installed copy of this package. */
  static isInstance(error: unknown): error is HeartbeatError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
