export type LogLevel = "debug" | "info" | "warn" | "error";

/** One call to the sink's logger. */
export interface LogLine {
  level: LogLevel;
  /** A shallow copy of the object logged. */
  obj: Record<string, unknown>;
  msg: string | undefined;
  /** `now()` when logged (epoch ms; a fake clock's time when one is given). */
  at: number;
}

/** The pino-compatible shape every @molecule package accepts as `logger`. */
export interface SinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface LogSink {
  logger: SinkLogger;
  /** Every call, in order (a live array: `lines.length = 0` forgets them). */
  lines: LogLine[];
  /** The `event` field of every line, in order. */
  events(): unknown[];
  /** Every line as `<level> <json> <msg>`, one per line: what a secret must never appear in. */
  text(): string;
}

/** A logger that keeps every call, at every level, for assertions. */
export function sinkLogger(options: { now?: () => number } = {}): LogSink {
  const now = options.now ?? Date.now;
  const lines: LogLine[] = [];
  const at =
    (level: LogLevel) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: { ...obj }, msg, at: now() });
    };
  return {
    logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    lines,
    events: () => lines.map((line) => line.obj.event),
    text: () => lines.map((l) => `${l.level} ${JSON.stringify(l.obj)} ${l.msg ?? ""}`).join("\n"),
  };
}
