import { createWriteStream, type WriteStream } from "node:fs";

/** The pino-compatible shape @molecule/runtime accepts. */
export interface DevLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** Keys whose string values never reach the log (authorization headers, tokens, keys, credentials). */
const SECRET_KEY = /authorization|token|api[-_]?key|credential|secret|password|cookie/i;
const SECRET_TEXT = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\b(sk-ant-[A-Za-z0-9_-]{6})[A-Za-z0-9_-]+/g;

function redactText(text: string): string {
  return text.replace(SECRET_TEXT, (_m, bearer?: string, key?: string) => `${bearer ?? key ?? ""}[redacted]`);
}

function redactRecord(value: object, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && typeof v === "string" ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (value instanceof Error) return { type: value.name, message: redactText(value.message) };
  if (typeof value !== "object" || value === null || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return redactRecord(value, depth);
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/**
 * JSON lines (pino's shape: level, time, msg, the object's keys) appended to `file`, redacted.
 * `molecule dev` hands it to the in-process daemon so the screen stays clean.
 */
export function createFileLogger(file: string, level: keyof typeof LEVELS = "info"): DevLogger {
  const stream: WriteStream = createWriteStream(file, { flags: "a", mode: 0o600 });
  let closed = false;
  const write = (name: keyof typeof LEVELS) => (obj: object, msg?: string) => {
    if (closed || LEVELS[name] < LEVELS[level]) return;
    const line = {
      level: name,
      time: new Date().toISOString(),
      service: "molecule-runtime",
      ...redactRecord(obj, 0),
      ...(msg !== undefined ? { msg: redactText(msg) } : {}),
    };
    stream.write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    close: () =>
      new Promise((resolve) => {
        if (closed) return resolve();
        closed = true;
        stream.end(() => resolve());
      }),
  };
}
