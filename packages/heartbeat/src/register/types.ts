import type { Dispatcher } from "undici";
import type { Clock, HeartbeatLogger, PlatformTokens } from "../types.js";

/** What `register()` needs of the platform token store (`@molecule/auth`'s `createTokenStore` result satisfies it). */
export interface RegisterTokens extends PlatformTokens {
  /** Persists a token the platform issued (atomic, 0600) before `register()` resolves. */
  save(token: string): Promise<void>;
  /**
   * The token file (`<configs>/.auth_token`). When given, a 401 tries the complete tokens a killed
   * save left beside it (`.auth_token.<pid>.<random>.tmp`) before giving up.
   */
  readonly file?: string;
}

export interface RegisterOptions {
  /** Platform base URL (`PLATFORM_URL`), http or https. */
  platformUrl: string;
  workspaceId: string;
  tokens: RegisterTokens;
  /** Where the platform reaches this workspace's A2A server: http(s), not a loopback IP literal (`localhost` is fine). */
  url: string;
  /** The A2A agent card sent with the registration (`name`, `description`, `version`, `url`, `skills`, `capabilities`). */
  agentCard: Record<string, unknown>;
  /** Aborting it ends the retries: `register()` rejects with `E_REGISTER_ABORTED`. */
  signal: AbortSignal;
  logger?: HeartbeatLogger;
  clock?: Clock;
  /** Uniform [0, 1), for the backoff's jitter. Default `Math.random`. */
  random?: () => number;
  /** Per-request timeout, ms. Default 10 000. */
  requestTimeoutMs?: number;
  /** The longest wait between two attempts, ms. Default 60 000. */
  maxDelayMs?: number;
  /**
   * How long 401s are retried, ms, waiting for the provisioner to write the live token (a token file
   * change retries at once), before `E_REGISTER_UNAUTHORIZED`. Default 120 000.
   */
  unauthorizedGraceMs?: number;
  /**
   * undici dispatcher for every request. Default: an own Agent (Node's built-in fetch until undici
   * has loaded), closed when `register()` settles.
   */
  dispatcher?: Dispatcher;
  /** Called after every request (e.g. for a metric). */
  onAttempt?: (attempt: RegisterAttempt) => void;
}

/** One register request as `onAttempt` sees it. */
export interface RegisterAttempt {
  /** 1-based. */
  attempt: number;
  ok: boolean;
  /** The HTTP status, when an answer came. */
  status?: number;
}

/** What a successful `register()` resolves to. */
export interface RegisterResult {
  /** The platform issued a token (it is saved through `tokens.save` already). */
  tokenIssued: boolean;
  /** Register requests sent, the successful one included. */
  attempts: number;
}
