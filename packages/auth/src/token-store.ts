import path from "node:path";
import { AtomicWriteError, looseTokenMode, writeFileAtomic } from "@molecule/internal";
import { type Clock, realClock } from "./clock.js";
import { AuthError, errnoCode } from "./errors.js";
import type { AuthLogger } from "./logger.js";
import { nodeTokenFs, type TokenStat, type TokenStoreFs } from "./token-fs.js";
import { startTokenWatch } from "./token-watch.js";
import { tokensEqual } from "./tokens-equal.js";

/** The token file's name inside `configsDir`. */
export const TOKEN_FILE_NAME = ".auth_token";
const DEFAULT_POLL_INTERVAL_MS = 5_000;
// A bearer token goes into an HTTP header: visible ASCII only (no spaces, line breaks or controls).
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export interface TokenStoreOptions {
  /** Directory that holds `.auth_token` (the daemon passes `resolveSettings(env).configsDir`). Required. */
  configsDir: string;
  /** Where `MOLECULE_ORG_ID` is read from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** pino-compatible logger. Default: silent. */
  logger?: AuthLogger;
  /** Watch the directory (fs.watch + a stat poll) and call `onRotated` listeners on a change. Default `false`. */
  watch?: boolean;
  /** Interval of the fallback stat poll while watching, in ms. Default 5000. */
  pollIntervalMs?: number;
  /** Clock for the poll timer. Default: the real clock. */
  clock?: Clock;
  /** Filesystem seam (tests inject failures through it). Default: `node:fs/promises` + `node:fs.watch`. */
  fs?: Partial<TokenStoreFs>;
}

export interface RefreshResult {
  token: string | undefined;
  /** True when the re-read token differs from the one used before — a retry can help. */
  changed: boolean;
}

export type TokenRotatedListener = (token: string) => void;

export interface TokenStore {
  /** Absolute path of the token file (`<configsDir>/.auth_token`). */
  readonly file: string;
  /** The token, or `undefined` when the file is missing, empty or whitespace-only. One `stat` per call; re-reads only on change. */
  get(): Promise<string | undefined>;
  /**
   * Drops the cache and re-reads. `changed` compares with `usedToken` when given (the token the failed
   * request carried), otherwise with the last token this store saw.
   */
  refreshFromDisk(usedToken?: string): Promise<RefreshResult>;
  /** Trims and writes the token atomically with mode 0600. Empty → `E_TOKEN_EMPTY`; failure → `E_TOKEN_WRITE`. */
  save(token: string): Promise<void>;
  /** `{ Authorization: "Bearer <t>" }` or `{}`, plus `X-Molecule-Org-Id` when `MOLECULE_ORG_ID` is set. */
  headers(): Promise<Record<string, string>>;
  /** `headers()` plus `X-Workspace-ID: <workspaceId>`, for calls the runtime makes as itself. */
  selfSourceHeaders(workspaceId: string): Promise<Record<string, string>>;
  /** Called with the new token whenever it changes to a different non-empty value. Returns an unsubscribe. */
  onRotated(listener: TokenRotatedListener): () => void;
  /** Stops watching. Idempotent; the other methods keep working. */
  close(): void;
}

interface Cached {
  key: string;
  token: string;
}

const statKey = (st: TokenStat) => `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
const isLoose = (mode: bigint) => (mode & 0o077n) !== 0n;
const isAbsent = (error: unknown) => {
  const code = errnoCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
};

/** A bearer-token store for `<configsDir>/.auth_token`: cached reads, atomic 0600 writes, optional watch. */
export function createTokenStore(options: TokenStoreOptions): TokenStore {
  if (
    typeof options !== "object" ||
    options === null ||
    typeof options.configsDir !== "string" ||
    options.configsDir.trim() === ""
  ) {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message:
        "createTokenStore needs { configsDir }: the directory that holds .auth_token (resolveSettings(env).configsDir, e.g. /configs)",
    });
  }
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs <= 0) {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message: `createTokenStore: pollIntervalMs must be a positive number of milliseconds, got ${String(pollIntervalMs)}`,
    });
  }
  const dir = path.resolve(options.configsDir);
  const file = path.join(dir, TOKEN_FILE_NAME);
  const env = options.env ?? process.env;
  const logger = options.logger;
  const clock = options.clock ?? realClock;
  const fs: TokenStoreFs = { ...nodeTokenFs, ...options.fs };

  let cache: Cached | undefined;
  // What the store last observed, for `changed` and for rotation events.
  let seen = false;
  let current: string | undefined;
  let lastNonEmpty: string | undefined;
  let readSeq = 0;
  let observedSeq = 0;
  let warnedLoose = false;
  const listeners = new Set<TokenRotatedListener>();

  const warnIfLoose = async (mode: bigint) => {
    if (warnedLoose || !isLoose(mode)) return;
    warnedLoose = true;
    // undefined for a mounted Secret (the kubelet's read-only 0440: nothing to fix).
    const loose = await looseTokenMode(file, mode);
    if (loose)
      logger?.warn({ event: "token.loose_mode", file, mode: loose.mode }, `${loose.problem}; run ${loose.fix}`);
  };

  const notify = (token: string) => {
    for (const listener of [...listeners]) {
      try {
        const result: unknown = listener(token);
        if (result instanceof Promise) {
          result.catch((error: unknown) => listenerFailed(error));
        }
      } catch (error) {
        listenerFailed(error);
      }
    }
  };
  const listenerFailed = (error: unknown) => {
    // Only the error's type and code: a listener's message could quote the token it was given.
    logger?.warn(
      {
        event: "token.listener_failed",
        file,
        error: error instanceof Error ? error.name : typeof error,
        code: errnoCode(error),
      },
      "an onRotated listener threw; the other listeners still ran",
    );
  };

  /**
   * Records an observation; later reads win over earlier ones that finish late. `saved`: this store
   * wrote it (`save()` logs that itself; "changed on disk" is for changes made by someone else).
   */
  const observe = (seq: number, token: string | undefined, saved = false) => {
    if (seq < observedSeq) return;
    observedSeq = seq;
    const rotated = seen && token !== undefined && token !== lastNonEmpty;
    seen = true;
    current = token;
    if (token !== undefined) lastNonEmpty = token;
    if (rotated) {
      if (!saved) logger?.info({ event: "token.rotated", file }, "platform token changed on disk");
      notify(token);
    }
  };

  const readError = (error: unknown) =>
    new AuthError({
      code: "E_TOKEN_READ",
      message: `could not read token file ${file} (${errnoCode(error) ?? "error"}); make it a regular file readable by this user (chmod 600, right owner)`,
      cause: error,
    });

  /** stat → (cached | read); the content always comes from the inode that was stat'ed or a newer one. */
  const load = async (useCache: boolean): Promise<string | undefined> => {
    readSeq += 1;
    const seq = readSeq;
    let st: TokenStat;
    try {
      st = await fs.stat(file, { bigint: true });
    } catch (error) {
      if (!isAbsent(error)) throw readError(error);
      cache = undefined;
      observe(seq, undefined);
      return undefined;
    }
    const key = statKey(st);
    if (useCache && cache && cache.key === key) return cache.token;
    await warnIfLoose(st.mode);
    let raw: string;
    try {
      const handle = await fs.open(file, "r");
      try {
        raw = await handle.readFile({ encoding: "utf8" });
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (!isAbsent(error)) throw readError(error);
      cache = undefined;
      observe(seq, undefined);
      return undefined;
    }
    const token = raw.trim();
    if (token === "") {
      cache = undefined;
      observe(seq, undefined);
      return undefined;
    }
    if (!HEADER_SAFE.test(token)) {
      cache = undefined;
      throw new AuthError({
        code: "E_TOKEN_INVALID",
        message: `token file ${file} holds characters a bearer token cannot contain (spaces, line breaks or control characters); rewrite it as the single-line token the platform issued`,
      });
    }
    cache = { key, token };
    observe(seq, token);
    return token;
  };

  const writeError = (step: string, error: unknown) =>
    new AuthError({
      code: "E_TOKEN_WRITE",
      message: `could not save token file ${file} (${step}: ${errnoCode(error) ?? "error"}); make ${dir} a writable directory for this user — the previous token, if any, is unchanged`,
      cause: error,
    });

  /** `@molecule/internal`'s durable write: temp file `wx` 0600, chmod, write, fsync, close, rename, directory fsync. */
  const writeAtomically = async (token: string) => {
    try {
      await writeFileAtomic(file, `${token}\n`, {
        mode: 0o600,
        dirMode: 0o700,
        fs,
        onDirSyncError: (error) => {
          logger?.warn(
            { event: "token.dir_fsync_failed", file, code: errnoCode(error) },
            `saved ${file} but could not fsync ${dir}; a power loss right now could undo the save`,
          );
        },
      });
    } catch (error) {
      if (error instanceof AtomicWriteError) throw writeError(error.step, error.cause);
      throw writeError("write", error);
    }
  };

  const save = async (token: string) => {
    const trimmed = typeof token === "string" ? token.trim() : "";
    if (trimmed === "") {
      throw new AuthError({
        code: "E_TOKEN_EMPTY",
        message: `refusing to save an empty token to ${file}; pass the token the platform issued (register response auth_token)`,
      });
    }
    if (!HEADER_SAFE.test(trimmed)) {
      throw new AuthError({
        code: "E_TOKEN_INVALID",
        message: `refusing to save a token with spaces, line breaks or control characters to ${file}; pass the single-line token the platform issued`,
      });
    }
    let existing: string | undefined;
    try {
      existing = await load(false);
    } catch (error) {
      // An unreadable or malformed old file is simply replaced.
      if (!AuthError.isInstance(error) || (error.code !== "E_TOKEN_INVALID" && error.code !== "E_TOKEN_READ"))
        throw error;
    }
    if (existing !== undefined && tokensEqual(existing, trimmed)) {
      let st: TokenStat;
      try {
        st = await fs.stat(file, { bigint: true });
        if (isLoose(st.mode)) await fs.chmod(file, 0o600);
      } catch (error) {
        throw writeError("chmod", error);
      }
      return;
    }
    await writeAtomically(trimmed);
    cache = undefined;
    readSeq += 1;
    observe(readSeq, trimmed, true);
    logger?.info({ event: "token.saved", file }, "platform token saved");
  };

  const headers = async (): Promise<Record<string, string>> => {
    const token = await load(true);
    const out: Record<string, string> = {};
    if (token !== undefined) out.Authorization = `Bearer ${token}`;
    const org = env.MOLECULE_ORG_ID?.trim();
    if (org) out["X-Molecule-Org-Id"] = org;
    return out;
  };

  const watch =
    options.watch === true
      ? startTokenWatch({ dir, file, fs, clock, logger, pollIntervalMs, reload: () => load(true) })
      : undefined;

  return {
    file,
    get: () => load(true),
    async refreshFromDisk(usedToken?: string) {
      const before = usedToken !== undefined ? usedToken : current;
      cache = undefined;
      const token = await load(false);
      return { token, changed: token !== before };
    },
    save,
    headers,
    async selfSourceHeaders(workspaceId: string) {
      if (typeof workspaceId !== "string" || workspaceId.trim() === "") {
        throw new AuthError({
          code: "E_WORKSPACE_ID_EMPTY",
          message: "selfSourceHeaders needs the workspace's own id (env WORKSPACE_ID)",
        });
      }
      return { ...(await headers()), "X-Workspace-ID": workspaceId.trim() };
    },
    onRotated(listener: TokenRotatedListener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      watch?.close();
    },
  };
}
