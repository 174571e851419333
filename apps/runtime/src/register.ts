import { AuthError, type TokenStore } from "@molecule/auth";
import { HeartbeatError, type HeartbeatLogger, register } from "@molecule/heartbeat";
import { RuntimeError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** What the registrar uses. @internal */
export interface RegistrarOptions {
  platformUrl: string;
  workspaceId: string;
  tokens: TokenStore;
  /** The advertised URL (known once the A2A port is bound) and the agent card served there. */
  url: string;
  agentCard: Record<string, unknown>;
  /** Aborted when shutdown begins: a registration in progress gives up. */
  halt: AbortSignal;
  log: Logger;
  metrics: Pick<Metrics, "registerAttempts">;
}

/** Registration and the one writer of "are we registered". @internal */
export interface Registrar {
  /** Registers (or joins the attempt in progress); `why` is logged on every line. */
  register(why: string): Promise<void>;
  registered(): boolean;
  /** The platform lost us (an outage it forgot us in): not registered until `register` succeeds again. */
  lost(): void;
}

/** The daemon's logger with `why` on every line register() logs (`register.failed`, `register.ok`, …). */
function withWhy(log: Logger, why: string): HeartbeatLogger {
  return {
    debug: (obj, msg) => log.debug?.({ ...obj, why }, msg),
    info: (obj, msg) => log.info({ ...obj, why }, msg),
    warn: (obj, msg) => log.warn({ ...obj, why }, msg),
    error: (obj, msg) => log.error({ ...obj, why }, msg),
  };
}

/**
 * Registration through `@molecule/heartbeat`'s `register()`: retries with backoff on 408/425/429/5xx
 * and transport errors until it succeeds or shutdown begins (then it resolves without registering);
 * a 401 tries the stranded temp tokens and waits for the token file; a permanent refusal rejects
 * with the `HeartbeatError` (`E_REGISTER_REJECTED` / `E_REGISTER_UNAUTHORIZED`). Concurrent calls
 * share the attempt in progress. @internal
 */
export function createRegistrar(options: RegistrarOptions): Registrar {
  const { platformUrl, workspaceId, tokens, url, agentCard, halt, log, metrics } = options;
  let registering: Promise<void> | undefined;
  let registered = false;
  function registerWorkspace(why: string): Promise<void> {
    if (registering) return registering;
    registering = (async () => {
      try {
        await register({
          platformUrl,
          workspaceId,
          tokens,
          url,
          agentCard,
          signal: halt,
          logger: withWhy(log, why),
          onAttempt: ({ ok }) => metrics.registerAttempts.inc({ result: ok ? "ok" : "failed" }),
        });
        registered = true;
      } catch (error) {
        if (HeartbeatError.isInstance(error) && error.code === "E_REGISTER_ABORTED") return;
        throw error;
      }
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  }
  return {
    register: registerWorkspace,
    registered: () => registered,
    lost() {
      registered = false;
    },
  };
}

/**
 * Boot's registration. It says first where the daemon writes (the token file, the state dir), as
 * neither is named in config.yaml; a permanent refusal stops what boot started and is fatal
 * (`E_REGISTER`, exit 1) with the fix. @internal
 */
export async function registerAtBoot(options: {
  log: Logger;
  tokenFile: string;
  stateDir: string;
  register(why: string): Promise<void>;
  stop(reason: string): Promise<void>;
  /** The daemon's masker (`redact.ts`): what the platform answered reaches stderr through it. */
  mask?: (text: string) => string;
}): Promise<void> {
  const { log, tokenFile, stateDir, stop } = options;
  const mask = options.mask ?? ((text: string) => text);
  log.info(
    { event: "boot.files", tokenFile, stateDir },
    `the platform token is kept in ${tokenFile}; session, delegation and admin files in ${stateDir}`,
  );
  try {
    await options.register("boot");
  } catch (error) {
    await stop("register refused");
    const readOnly = readOnlyTokenDir(error);
    if (readOnly) {
      throw new RuntimeError({
        code: "E_TOKEN_READONLY",
        message:
          `molecule-runtime: the platform issued this workspace a token, but it could not be saved: ${tokenFile} is on a read-only or unwritable volume (${readOnly}; CONFIGS_DIR is a mounted Secret?). ` +
          "The issued token is lost, so the platform will answer 401 until it is replaced. Fix: rotate the workspace token on the platform and provision it in the Secret's .auth_token key before the pod starts, or make CONFIGS_DIR writable for this user.",
        cause: error,
      });
    }
    const code = HeartbeatError.isInstance(error) ? error.code : "error";
    throw new RuntimeError({
      code: "E_REGISTER",
      message: `molecule-runtime: the platform refused to register this workspace (${code}): ${mask(error instanceof Error ? error.message : String(error))}`,
      cause: error,
    });
  }
}

/** The errno (EROFS, EACCES, EPERM) when saving an issued token failed on an unwritable volume. */
function readOnlyTokenDir(error: unknown): string | undefined {
  if (!AuthError.isInstance(error) || error.code !== "E_TOKEN_WRITE") return undefined;
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (code === "EROFS" || code === "EACCES" || code === "EPERM") return code;
  }
  return undefined;
}
