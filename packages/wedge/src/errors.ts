const MARKER = Symbol.for("molecule.error.WedgeError");

/**
 * Thrown for a refused input, e.g. `markWedged("")` (`code: "E_WEDGE_EMPTY_REASON"`).
 * A `TypeError`, so callers that treat bad arguments generically still do.
 */
export class WedgeError extends TypeError {
  readonly code: "E_WEDGE_EMPTY_REASON" | "E_WEDGE_BAD_SCOPE";
  readonly [MARKER] = true;

  constructor(options: { code: WedgeError["code"]; message: string }) {
    super(options.message);
    this.name = "WedgeError";
    this.code = options.code;
  }

  /** True for a WedgeError from any installed copy of this package. */
  static isInstance(error: unknown): error is WedgeError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
