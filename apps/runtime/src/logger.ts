import { AGENTS } from "@molecule/auth";
import { REDACTED } from "@molecule/internal";
import pino from "pino";

/** The pino-compatible shape every @molecule package accepts. */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Every agent's credential env vars, from the registry (`ANTHROPIC_API_KEY`, `CODEX_API_KEY`, …). */
const CREDENTIAL_ENV = [...new Set(AGENTS.flatMap((agent) => agent.credentialEnv))];

/**
 * Paths pino removes from every line: authorization headers, tokens, credentials, and every agent's
 * credential env vars (a logged env object). Free text is masked by `maskingLogger` (redact.ts).
 */
export const REDACT_PATHS: readonly string[] = [
  "authorization",
  "Authorization",
  "*.authorization",
  "*.Authorization",
  "headers.authorization",
  "headers.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "token",
  "*.token",
  "auth_token",
  "*.auth_token",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "apiKey",
  "*.apiKey",
  ...CREDENTIAL_ENV.flatMap((name) => [name, `*.${name}`]),
  "credentials",
  "*.credentials",
  "x-api-key",
  '*["x-api-key"]',
];

export interface CreateLoggerOptions {
  /** pino level (default "info"). */
  level?: string;
  /**
   * Human-readable lines through pino-pretty (default false; the daemon turns it on for a TTY).
   * pino-pretty is an optional peer dependency: when it is not installed, a note goes to stderr and
   * the lines stay JSON.
   */
  pretty?: boolean;
  /** Append JSON lines to this file (mode 0600) instead of stdout. */
  file?: string;
  /**
   * Write each line before the call returns (default false: pino's asynchronous destination writes
   * in the background, a burst of lines in one write, and never blocks on a slow stdout pipe; what is
   * pending is written synchronously when the process exits, `process.exit` and a fatal error
   * included, and the daemon waits for it before it exits).
   */
  sync?: boolean;
}

/** The literal paths go to pino's `redact`; `*.`-first ones are matched here (see `redactNested`). */
const LITERAL_PATHS = REDACT_PATHS.filter((path) => !path.startsWith("*"));

/** A key to censor (true) or to descend into, for the paths `*.a`, `*.a.b`, `*["a"]`. */
type PathTree = Map<string, true | PathTree>;

function nestedTree(paths: readonly string[]): PathTree {
  const tree: PathTree = new Map();
  for (const path of paths) {
    if (!path.startsWith("*")) continue;
    const parts = [...path.slice(1).matchAll(/\.([^.[\]]+)|\["([^"]+)"\]/g)].map((m) => m[1] ?? m[2] ?? "");
    let node = tree;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node.set(part, true);
      else {
        const next = node.get(part);
        if (next === true) return;
        const child: PathTree = next ?? new Map();
        node.set(part, child);
        node = child;
      }
    });
  }
  return tree;
}

const NESTED = nestedTree(REDACT_PATHS);

/** `value` with the keys of `tree` censored: the same object when nothing matched, else a copy. */
function censorIn(value: object, tree: PathTree): object {
  let out: Record<string, unknown> | undefined;
  for (const [key, rule] of tree) {
    if (!Object.hasOwn(value, key)) continue;
    const current = (value as Record<string, unknown>)[key];
    let next: unknown = REDACTED;
    if (rule !== true) {
      if (current === null || typeof current !== "object" || Array.isArray(current)) continue;
      next = censorIn(current, rule);
      if (next === current) continue;
    }
    out ??= { ...value };
    out[key] = next;
  }
  return out ?? value;
}

/**
 * pino's `redact` for the `*.`-first paths (a key one level down in any field), as a formatter: the
 * same censoring, but pino runs a wildcard-first redactor over every field of every line (even a
 * string), re-parsing each path — most of a line's cost. Never changes the caller's objects. @internal
 */
export function redactNested<T extends object>(obj: T): T {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const value = (obj as Record<string, unknown>)[key];
    if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
    const censored = censorIn(value, NESTED);
    if (censored === value) continue;
    out ??= { ...(obj as Record<string, unknown>) };
    out[key] = censored;
  }
  return (out ?? obj) as T;
}

interface Flushable {
  flush(cb: (error?: Error) => void): void;
  flushSync(): void;
}

/** The asynchronous destinations of this process's loggers, for `flushLogs`. */
const pending = new Set<Flushable>();

/**
 * Waits until every line logged so far through an asynchronous `createLogger` destination has been
 * written (at most `timeoutMs`); never rejects. The daemon calls it before it exits. @internal
 */
export async function flushLogs(timeoutMs = 2_000): Promise<void> {
  const all = [...pending].map(
    (dest) =>
      new Promise<void>((resolve) => {
        try {
          dest.flush(() => resolve());
        } catch {
          resolve(); // destroyed, or its file not open yet
        }
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(all), late]);
  clearTimeout(timer);
}

/** The daemon's logger: pino JSON lines with `redact` for authorization headers, tokens and credentials. */
export function createLogger(options: CreateLoggerOptions = {}): pino.Logger {
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    redact: { paths: [...LITERAL_PATHS], censor: REDACTED },
    base: { service: "molecule-runtime" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: redactNested },
  };
  if (options.pretty) {
    // pino-pretty is an optional peer: only --pretty loads it. pino resolves it synchronously.
    try {
      return withNestedRedaction(
        pino({
          ...base,
          transport: { target: "pino-pretty", options: { colorize: true, translateTime: "SYS:HH:MM:ss" } },
        }),
      );
    } catch (error) {
      if (!/unable to determine transport target/.test(error instanceof Error ? error.message : "")) throw error;
      process.stderr.write(
        "molecule-runtime: pretty logs need pino-pretty, which is not installed; logging JSON lines instead. Fix: npm install pino-pretty (beside @molecule/runtime)\n",
      );
    }
  }
  const sync = options.sync ?? false;
  // minLength 1: a line is written at once, as with 0, but `flush(cb)` then waits for the write in
  // flight (with 0 it calls back at once). pino registers an exit hook that flushes synchronously.
  const target = options.file ? { dest: options.file, append: true, mode: 0o600, mkdir: true } : { dest: 1 };
  const destination = pino.destination({ ...target, sync, ...(sync ? {} : { minLength: 1 }) });
  if (!sync) {
    pending.add(destination);
    destination.once("close", () => pending.delete(destination));
  }
  return withNestedRedaction(pino(base, destination));
}

/**
 * A child's bindings skip the `log` formatter: `child` and `setBindings` (inherited by every
 * descendant) censor them first.
 */
function withNestedRedaction(logger: pino.Logger): pino.Logger {
  const { child, setBindings } = logger;
  return Object.assign(logger, {
    child(this: pino.Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions): pino.Logger {
      return Reflect.apply(child, this, [redactNested(bindings), options]);
    },
    setBindings(this: pino.Logger, bindings: pino.Bindings): void {
      Reflect.apply(setBindings, this, [redactNested(bindings)]);
    },
  });
}
