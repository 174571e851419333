const MARKER = Symbol.for("molecule.error.ConfigError");

/** Codes a `ConfigError` (or one of its field problems) carries. */
export type ConfigErrorCode =
  | "E_CONFIG_MISSING"
  | "E_CONFIG_YAML"
  | "E_CONFIG_INVALID"
  | "E_CONFIG_PATH_ESCAPE"
  | "E_CONFIG_TOO_LARGE";

/** One thing wrong with one field of config.yaml. */
export interface ConfigFieldProblem {
  code: "E_CONFIG_INVALID" | "E_CONFIG_PATH_ESCAPE";
  /** Dotted path of the field, e.g. `a2a.port` or `skills.0` ("" for the whole file). */
  field: string;
  /** 1-based line in config.yaml, when the field is in the file. */
  line?: number;
  /** What is wrong, e.g. `expected an integer, got the string "abc"`. */
  message: string;
  /** What to do about it. */
  fix: string;
}

/**
 * Thrown by `loadConfig` when config.yaml cannot be used: missing (`E_CONFIG_MISSING`), not valid
 * YAML (`E_CONFIG_YAML`, with line and column), failing the schema (`E_CONFIG_INVALID`) or naming a
 * path outside the config directory (`E_CONFIG_PATH_ESCAPE`); or too large or too complex to be a
 * config (`E_CONFIG_TOO_LARGE`: over 1 MiB, 10,000 keys, 64 levels of nesting or 100 aliases). The
 * message names the file, the line or field, and the fix.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  /** The config file the error is about. */
  readonly file: string;
  /** Every field problem found (empty for `E_CONFIG_MISSING` and `E_CONFIG_YAML`). */
  readonly problems: readonly ConfigFieldProblem[];
  /** 1-based line of a YAML syntax error or of the first field problem. */
  readonly line: number | undefined;
  /** 1-based column of a YAML syntax error. */
  readonly column: number | undefined;
  /** What to do about it (the first problem's fix for field errors). */
  readonly fix: string;
  readonly [MARKER] = true;

  constructor(options: {
    code: ConfigErrorCode;
    file: string;
    message: string;
    fix: string;
    problems?: readonly ConfigFieldProblem[];
    line?: number;
    column?: number;
    cause?: unknown;
  }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConfigError";
    this.code = options.code;
    this.file = options.file;
    this.fix = options.fix;
    this.problems = options.problems ?? [];
    this.line = options.line;
    this.column = options.column;
  }

  /** True for a ConfigError from any installed copy of this package. */
  static isInstance(error: unknown): error is ConfigError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}
