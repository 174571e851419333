import { type BigIntStats, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { AGENTS, getAgent } from "@molecule/auth";
import { createMasker } from "@molecule/internal";
import type { Logger } from "./logger.js";

/**
 * Every secret value the daemon knows, and the masks built on them: the platform token (the current
 * one and every earlier one this run saw), the agents' API keys and OAuth tokens in its environment,
 * and the credentials it reads (the agent's credentials file). Logs, errors and turn details are
 * masked by `@molecule/internal`'s masker with all of them plus its generic token shapes (`Bearer …`,
 * `sk-…` keys, JWTs, platform tokens, secret-named assignments) and assignments of every registry
 * agent's credential env vars; replies only with the exact known values of 16 characters or more —
 * never shapes, since a user may ask the agent for code that holds a key-shaped string. @internal
 */
export interface Secrets {
  /** Remembers a secret value (ignored when shorter than 8 characters). */
  add(value: string | undefined): void;
  /** For log lines, errors and turn details: known values and the generic token shapes. */
  maskText(text: string): string;
  /** For replies: the workspace's own credentials (known values of 16+ characters), nothing else. */
  maskReply(text: string): string;
  /** Follows the platform token (current and rotated) and the agent's credentials file from now on. */
  track(sources: SecretSources): void;
  /** Re-reads what can change: the platform token, the agent's credentials file. Never throws. */
  refresh(): Promise<void>;
}

export interface SecretSources {
  /**
   * The platform token store. With its `file`, a refresh asks the store only when that file changed
   * since the last time (one cheap stat; a store's `get` costs an async stat per call).
   */
  tokens?: {
    readonly file?: string;
    get(): Promise<string | undefined>;
    onRotated(listener: (token: string) => void): () => void;
  };
  /** The agent (`config.runtime`) whose credentials file is read. */
  runtime?: string;
}

/** Env names whose values are credentials: the agents' own, and anything named like a key or token. */
const SECRET_ENV = /(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH_TOKEN)($|_)/i;
const KNOWN_ENV = new Set(AGENTS.flatMap((agent) => agent.credentialEnv));
const CREDENTIAL_NAMES = [...KNOWN_ENV];
/** Keys of a credentials file whose string values are secrets (accessToken, refreshToken, api_key…). */
const SECRET_KEY = /token|key|secret|password|credential/i;
const MIN_LOG = 8;
const MIN_REPLY = 16;
const MAX_VALUES = 64;
const MAX_CREDENTIALS_BYTES = 1024 * 1024;

function collectStrings(value: unknown, keyed: boolean, out: string[], depth = 0): void {
  if (depth > 8) return;
  if (typeof value === "string") {
    if (keyed) out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collectStrings(item, keyed, out, depth + 1);
    return;
  }
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value))
      collectStrings(item, keyed || SECRET_KEY.test(key), out, depth + 1);
  }
}

/** The secrets of a daemon with this environment (its credential env vars at once; `track` adds the rest). */
export function createSecrets(env: NodeJS.ProcessEnv): Secrets {
  let sources: SecretSources = {};
  const values = new Set<string>();
  // The masker reads the live set at every call: values added later (a rotated token) are masked too.
  const logMasker = createMasker({ values, minLength: MIN_LOG, names: CREDENTIAL_NAMES });
  const replyMasker = createMasker({ values, minLength: MIN_REPLY, shapes: false });
  const credentialFiles = new Map<string, string>(); // file → stat key of the last read
  let tokenKey: string | undefined; // the token file's stat key at the last read through the store
  const add = (value: string | undefined) => {
    const v = value?.trim();
    if (!v || v.length < MIN_LOG || values.has(v)) return;
    values.add(v);
    // Bounded: the oldest go first (a very long-running daemon rotating often).
    while (values.size > MAX_VALUES) values.delete(values.values().next().value as string);
  };
  for (const [name, value] of Object.entries(env)) {
    if (value && (KNOWN_ENV.has(name) || SECRET_ENV.test(name))) add(value);
  }

  // The agent's credential files, worked out once per `track`ed runtime (env and home are fixed).
  let credentialPaths: { runtime: string | undefined; files: string[] } | undefined;
  const files = (): string[] => {
    if (credentialPaths?.runtime !== sources.runtime || !credentialPaths) {
      const agent = sources.runtime ? getAgent(sources.runtime) : undefined;
      const home = env.HOME || homedir();
      credentialPaths = { runtime: sources.runtime, files: agent?.authProbe.credentialFiles?.({ home, env }) ?? [] };
    }
    return credentialPaths.files;
  };

  const readCredentials = async (file: string) => {
    try {
      // A synchronous stat, run before every turn: a few µs, where an async one of a missing file
      // (the usual case) costs ~100 µs of CPU building its ENOENT error.
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st) return;
      const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (credentialFiles.get(file) === key || st.size > MAX_CREDENTIALS_BYTES) return;
      credentialFiles.set(file, key);
      const found: string[] = [];
      collectStrings(JSON.parse(await readFile(file, "utf8")), false, found);
      for (const value of found) add(value);
    } catch {
      // missing or not JSON: nothing to learn from it
    }
  };

  return {
    add,
    maskText: (text) => logMasker.mask(text),
    maskReply: (text) => replyMasker.mask(text),
    track(next) {
      sources = { ...sources, ...next };
      next.tokens?.onRotated((token) => add(token));
    },
    async refresh() {
      const tokens = sources.tokens;
      // The store re-reads only on a change of its file's stat key: skipped when the file is as it was
      // at the last read (its rotations reach `add` through onRotated anyway).
      const key = tokens?.file ? tokenFileKey(tokens.file) : undefined;
      if (tokens && (key === undefined || key !== tokenKey)) {
        try {
          add(await tokens.get());
          tokenKey = key;
        } catch {
          // an unreadable token file is the token store's to report
        }
      }
      for (const file of files()) await readCredentials(file);
    },
  };
}

/** The token file's stat key (the token store's own), or undefined when it cannot be stat'ed. */
function tokenFileKey(file: string): string | undefined {
  try {
    const st: BigIntStats | undefined = statSync(file, { bigint: true, throwIfNoEntry: false });
    return st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : undefined;
  } catch {
    return undefined;
  }
}

function maskDeep(value: unknown, mask: (text: string) => string, depth: number): unknown {
  if (typeof value === "string") return mask(value);
  if (value === null || typeof value !== "object" || depth > 6) return value;
  if (value instanceof Error) {
    const masked: Record<string, unknown> = { type: value.name, message: mask(value.message) };
    if (value.stack) masked.stack = mask(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) masked.code = code;
    return masked;
  }
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, mask, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = maskDeep(item, mask, depth + 1);
  return out;
}

/**
 * A logger that masks every string of every line (fields and message) with `secrets.maskText`
 * before `inner` sees it: what the platform echoes, what an agent prints, what an error carries.
 * Wraps any logger the daemon is given, so a custom one is covered too. @internal
 */
export function maskingLogger(inner: Logger, secrets: Pick<Secrets, "maskText">): Logger {
  const enabled = (inner as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.bind(inner);
  const wrap =
    (method: (obj: object, msg?: string) => void, level: string) =>
    (obj: object, msg?: string): void => {
      if (enabled && !enabled(level)) return; // no masking work for a line that is not written
      const masked = maskDeep(obj, secrets.maskText, 0) as object;
      if (msg === undefined) method(masked);
      else method(masked, secrets.maskText(msg));
    };
  const logger: Logger = {
    info: wrap(inner.info.bind(inner), "info"),
    warn: wrap(inner.warn.bind(inner), "warn"),
    error: wrap(inner.error.bind(inner), "error"),
  };
  if (inner.debug) logger.debug = wrap(inner.debug.bind(inner), "debug");
  return logger;
}
