import { realClock as sharedRealClock } from "@molecule/internal";

/** The house clock (docs/ARCHITECTURE.md): every time-dependent factory takes one, defaulting to the real clock. */
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

/** The real clock (`@molecule/internal`, inlined at build); unref'd timers. @internal */
export const realClock: Clock = sharedRealClock;

/** JSON.parse, undefined instead of a throw. @internal */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** @internal */
export const silentLogger: HeartbeatLogger = { info() {}, warn() {}, error() {} };

/** Error text with its errno code; one line of operator-safe text. @internal */
export { errorText, oneLine } from "@molecule/internal";
