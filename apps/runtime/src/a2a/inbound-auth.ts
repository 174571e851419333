import { createHash, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { WorkspaceConfig } from "@molecule/config";
import { errnoCode } from "@molecule/internal";
import { RuntimeError } from "../errors.js";
import type { Logger } from "../logger.js";

/** The env var that allows `a2a.auth: none` beyond loopback, like `a2a.allow_unauthenticated: true`. */
export const ALLOW_UNAUTHENTICATED_ENV = "MOLECULE_A2A_ALLOW_UNAUTHENTICATED";
/** Tokens shorter than this are never accepted (preflight fails on them; a re-read ignores them). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Who made a request: `undefined` with `auth: none` (every caller is the same caller), otherwise an
 * opaque id of the credential (a digest, never the token). Tasks are visible only to their creator.
 */
export type Caller = string | undefined;

/** The outcome of checking one request's `Authorization` header. */
export type AuthResult = { ok: true; caller: Caller } | { ok: false };

/** The A2A endpoint's gate. @internal */
export interface InboundAuth {
  readonly mode: "none" | "bearer";
  /** Whether `/metrics` asks for a token too. */
  readonly metricsAuth: boolean;
  /** Checks an `Authorization` header; never logs or keeps what was presented. */
  check(header: string | undefined): Promise<AuthResult>;
}

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** The tokens of a token file: one a line, trimmed; blank lines and too-short tokens are left out. */
export function parseTokens(text: string): { tokens: string[]; short: number } {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const tokens = lines.filter((line) => line.length >= MIN_TOKEN_LENGTH);
  return { tokens, short: lines.length - tokens.length };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);

/** Whether binding `host` keeps the port on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  return LOOPBACK.has(h) || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Refuses `a2a.auth: none` on an address beyond loopback unless it is deliberate
 * (`a2a.allow_unauthenticated: true` or `MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1`). Throws
 * `E_A2A_UNAUTHENTICATED`. @internal
 */
export function assertInboundPolicy(config: WorkspaceConfig, host: string, env: NodeJS.ProcessEnv): void {
  if (config.a2a.auth !== "none" || isLoopbackHost(host)) return;
  if (config.a2a.allow_unauthenticated || env[ALLOW_UNAUTHENTICATED_ENV] === "1") return;
  throw new RuntimeError({
    code: "E_A2A_UNAUTHENTICATED",
    message:
      `refusing to serve A2A on ${host} without authentication: anyone who reaches the port would run the agent. ` +
      `Set a2a.auth: bearer with a2a.auth_token_file in config.yaml; or bind loopback (--host 127.0.0.1); ` +
      `or, when a NetworkPolicy (or firewall) already limits who reaches the port, allow it deliberately with ` +
      `a2a.allow_unauthenticated: true or ${ALLOW_UNAUTHENTICATED_ENV}=1.`,
  });
}

export interface InboundAuthOptions {
  config: WorkspaceConfig;
  /** Where a relative `a2a.auth_token_file` is resolved from. */
  configDir: string;
  log: Logger;
}

/** Resolves `a2a.auth_token_file` against the config dir. */
export function tokenFilePath(config: WorkspaceConfig, configDir: string): string | undefined {
  const file = config.a2a.auth_token_file;
  if (file === undefined) return undefined;
  return isAbsolute(file) ? file : resolve(configDir, file);
}

/**
 * The gate for `a2a.auth`. With `bearer`, the token file is read now (no valid token: throws
 * `E_A2A_AUTH_TOKEN_FILE`) and re-read whenever its identity, size or mtime changes (a mounted
 * Secret is swapped by a symlink): a failed re-read keeps the last good tokens and warns once.
 * Comparison is constant-time on SHA-256 digests of equal length. @internal
 */
export async function createInboundAuth(options: InboundAuthOptions): Promise<InboundAuth> {
  const { config, log } = options;
  const metricsAuth = config.a2a.auth === "bearer" && config.a2a.metrics_auth;
  if (config.a2a.auth === "none") {
    return { mode: "none", metricsAuth: false, check: async () => ({ ok: true, caller: undefined }) };
  }
  const file = tokenFilePath(config, options.configDir);
  const fail = (why: string): never => {
    throw new RuntimeError({
      code: "E_A2A_AUTH_TOKEN_FILE",
      message: `a2a.auth is bearer but ${why}; put the accepted tokens (one a line, at least ${MIN_TOKEN_LENGTH} characters) in a file and name it in a2a.auth_token_file`,
    });
  };
  if (file === undefined) return fail("a2a.auth_token_file is not set");

  let digests: Buffer[] = [];
  let seen = "";
  let failing = false;
  const load = async (): Promise<void> => {
    const info = await stat(file);
    const identity = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (identity === seen) return;
    const { tokens, short } = parseTokens(await readFile(file, "utf8"));
    if (tokens.length === 0) throw new Error(`no token of at least ${MIN_TOKEN_LENGTH} characters`);
    if (short > 0) {
      log.warn(
        { event: "a2a.auth_tokens_short", file, ignored: short },
        `${short} line(s) of ${file} are shorter than ${MIN_TOKEN_LENGTH} characters and are not accepted`,
      );
    }
    const changed = seen !== "";
    digests = tokens.map(digest);
    seen = identity;
    if (changed) log.info({ event: "a2a.auth_tokens_reloaded", file, tokens: tokens.length }, "A2A tokens re-read");
  };
  try {
    await load();
  } catch (error) {
    fail(`${file} cannot be used (${errnoCode(error) ?? (error instanceof Error ? error.message : String(error))})`);
  }
  log.info({ event: "a2a.auth", mode: "bearer", file, tokens: digests.length }, "A2A requires a bearer token");

  const refresh = async () => {
    try {
      await load();
      if (failing) log.info({ event: "a2a.auth_tokens_readable", file }, "the A2A token file is readable again");
      failing = false;
    } catch (error) {
      if (!failing) {
        log.warn(
          { event: "a2a.auth_tokens_unreadable", file, code: errnoCode(error) },
          `cannot re-read ${file}; the tokens read last are still accepted`,
        );
      }
      failing = true;
    }
  };

  return {
    mode: "bearer",
    metricsAuth,
    async check(header) {
      const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
      if (!match?.[1]) return { ok: false };
      await refresh();
      const presented = digest(match[1]);
      let found: Buffer | undefined;
      // Every digest is compared (no early exit), each in constant time.
      for (const valid of digests) if (timingSafeEqual(presented, valid) && !found) found = valid;
      return found ? { ok: true, caller: found.toString("base64url") } : { ok: false };
    },
  };
}
