import { AuthError } from "@molecule/auth";
import { HeartbeatError, type HeartbeatLogger, register } from "@molecule/heartbeat";
import { agentCard } from "./agent-card.js";
import type { RuntimeContext } from "./context.js";
import { RuntimeError } from "./errors.js";
import type { Logger } from "./logger.js";

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
 * share the attempt in progress. Sets `ctx.state.registered`. @internal
 */
export function createRegistrar(ctx: RuntimeContext): (why: string) => Promise<void> {
  let registering: Promise<void> | undefined;
  return function registerWorkspace(why: string): Promise<void> {
    if (registering) return registering;
    const url = ctx.state.url;
    registering = (async () => {
      try {
        await register({
          platformUrl: ctx.platformUrl,
          workspaceId: ctx.workspaceId,
          tokens: ctx.tokens,
          url,
          agentCard: agentCard(ctx.config, url),
          signal: ctx.halt,
          logger: withWhy(ctx.log, why),
          onAttempt: ({ ok }) => ctx.metrics.registerAttempts.inc({ result: ok ? "ok" : "failed" }),
        });
        ctx.state.registered = true;
      } catch (error) {
        if (HeartbeatError.isInstance(error) && error.code === "E_REGISTER_ABORTED") return;
        throw error;
      }
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  };
}

/**
 * Boot's registration. It says first where the daemon writes (the token file, the state dir), as
 * neither is named in config.yaml; a permanent refusal stops what boot started and is fatal
 * (`E_REGISTER`, exit 1) with the fix. @internal
 */
export async function registerAtBoot(
  ctx: RuntimeContext,
  registerWorkspace: (why: string) => Promise<void>,
  stop: (reason: string) => Promise<void>,
): Promise<void> {
  ctx.log.info(
    { event: "boot.files", tokenFile: ctx.tokens.file, stateDir: ctx.stateDir },
    `the platform token is kept in ${ctx.tokens.file}; session, delegation and admin files in ${ctx.stateDir}`,
  );
  try {
    await registerWorkspace("boot");
  } catch (error) {
    await stop("register refused");
    const readOnly = readOnlyTokenDir(error);
    if (readOnly) {
      throw new RuntimeError({
        code: "E_TOKEN_READONLY",
        message:
          `molecule-runtime: the platform issued this workspace a token, but it could not be saved: ${ctx.tokens.file} is on a read-only or unwritable volume (${readOnly}; CONFIGS_DIR is a mounted Secret?). ` +
          "The issued token is lost, so the platform will answer 401 until it is replaced. Fix: rotate the workspace token on the platform and provision it in the Secret's .auth_token key before the pod starts, or make CONFIGS_DIR writable for this user.",
        cause: error,
      });
    }
    const code = HeartbeatError.isInstance(error) ? error.code : "error";
    throw new RuntimeError({
      code: "E_REGISTER",
      message: `molecule-runtime: the platform refused to register this workspace (${code}): ${error instanceof Error ? error.message : String(error)}`,
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
