/** DESIGN.md's clock: every time-dependent factory takes one, defaulting to the real clock. */
export interface Clock {
  /** epoch ms */
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A pino-compatible logger. The package is silent without one. */
export interface HeartbeatLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * How a turn ended. All but `ok`, `bad-request`, `cancelled` and `busy` count toward `error_rate`
 * (they mean the workspace cannot serve).
 */
export type TurnOutcome =
  | "ok"
  | "auth"
  | "wedged"
  | "agent-error"
  | "timeout"
  | "crash"
  | "rate-limited"
  | "bad-request"
  | "cancelled"
  | "busy";

/**
 * What the heartbeat and the poller need of the platform token store (`@molecule/auth`'s
 * `createTokenStore` result satisfies it).
 */
export interface PlatformTokens {
  /** `{ Authorization: "Bearer <t>" }` or `{}`, plus any org header. */
  headers(): Promise<Record<string, string>>;
  /** Re-reads the token file; `changed` compares with `usedToken`. */
  refreshFromDisk(usedToken?: string): Promise<{ token: string | undefined; changed: boolean }>;
  /** Called when the token changes on disk. Returns an unsubscribe. */
  onRotated?(listener: (token: string) => void): () => void;
}

/** The real clock (unref'd timers, so a pending timer never keeps a process alive on its own). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(cb, ms) {
    const handle = setTimeout(cb, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** @internal */
export const silentLogger: HeartbeatLogger = { info() {}, warn() {}, error() {} };

/** @internal */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** One line of operator-safe text: control characters become spaces, cut to `max` characters. @internal */
export function oneLine(text: string, max: number): string {
  let flat = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    flat += cp < 0x20 || cp === 0x7f ? " " : ch;
  }
  const chars = Array.from(flat.replace(/ {2,}/g, " ").trim());
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : chars.join("");
}
