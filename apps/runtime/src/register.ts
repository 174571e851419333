import { request } from "undici";
import * as z from "zod";
import { agentCard } from "./agent-card.js";
import { pause, type RuntimeContext } from "./context.js";
import type { Logger } from "./logger.js";

const RegisterResponse = z.looseObject({
  status: z.string().optional(),
  auth_token: z.string().min(1).optional(),
});

export interface RegisterTokens {
  headers(): Promise<Record<string, string>>;
  save(token: string): Promise<void>;
  refreshFromDisk(): Promise<{ token: string | undefined; changed: boolean }>;
}

export interface RegisterOptions {
  platformUrl: string;
  workspaceId: string;
  url: string;
  agentCard: Record<string, unknown>;
  tokens: RegisterTokens;
  logger: Logger;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export type RegisterResult = { ok: true; tokenIssued: boolean } | { ok: false; status?: number; error: string };

/** One `POST /registry/register`. An issued `auth_token` is persisted (atomic, 0600) before returning. @internal */
export async function registerOnce(options: RegisterOptions): Promise<RegisterResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  try {
    const headers = await options.tokens.headers();
    const res = await request(new URL("/registry/register", options.platformUrl), {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ id: options.workspaceId, url: options.url, agent_card: options.agentCard }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode === 200) {
      let parsed: z.infer<typeof RegisterResponse> = {};
      try {
        parsed = RegisterResponse.parse(JSON.parse(text));
      } catch {
        // A 200 is a registration even when the body is odd; there is just no token in it.
      }
      if (parsed.auth_token) await options.tokens.save(parsed.auth_token);
      return { ok: true, tokenIssued: Boolean(parsed.auth_token) };
    }
    if (res.statusCode === 401) await options.tokens.refreshFromDisk();
    let error = `HTTP ${res.statusCode}`;
    try {
      const body = z.looseObject({ error: z.string() }).parse(JSON.parse(text));
      error = `${error}: ${body.error.slice(0, 200)}`;
    } catch {
      // keep the status only
    }
    return { ok: false, status: res.statusCode, error };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      ok: false,
      error: typeof code === "string" ? code : error instanceof Error ? error.message : String(error),
    };
  }
}

/** Exponential backoff with ±20 % jitter, capped at 60 s between tries. @internal */
export function registerBackoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(60_000, 1_000 * 2 ** Math.max(0, attempt - 1));
  return Math.min(60_000, Math.round(base * (0.8 + random() * 0.4)));
}

export function registerHint(result: RegisterResult): string {
  if (result.ok) return "";
  if (result.status === 400)
    return "the platform refused the body: check MOLECULE_ADVERTISE_URL (http/https, not a loopback IP literal)";
  if (result.status === 401)
    return "the platform has a live token for this workspace and ours is missing or wrong: check <configs>/.auth_token or re-provision";
  if (result.status === undefined) return "the platform is unreachable: check PLATFORM_URL and the network";
  return "the platform failed; retrying with backoff";
}

/**
 * Registration that retries with backoff until it succeeds or shutdown begins. Concurrent calls share
 * the attempt in progress. Sets `ctx.state.registered`. @internal
 */
export function createRegistrar(ctx: RuntimeContext): (why: string) => Promise<void> {
  let registering: Promise<void> | undefined;
  return function register(why: string): Promise<void> {
    if (registering) return registering;
    const url = ctx.state.url;
    const options: RegisterOptions = {
      platformUrl: ctx.platformUrl,
      workspaceId: ctx.workspaceId,
      url,
      agentCard: agentCard(ctx.config, url),
      tokens: ctx.tokens,
      logger: ctx.log,
    };
    registering = (async () => {
      for (let attempt = 1; !ctx.halt.aborted; attempt += 1) {
        const result = await registerOnce(options);
        ctx.metrics.registerAttempts.inc({ result: result.ok ? "ok" : "failed" });
        if (result.ok) {
          ctx.state.registered = true;
          ctx.log.info(
            { event: "register.ok", why, attempt, tokenIssued: result.tokenIssued },
            "registered with the platform",
          );
          return;
        }
        const waitMs = registerBackoffMs(attempt);
        ctx.log.warn(
          {
            event: "register.failed",
            why,
            attempt,
            status: result.status,
            error: result.error,
            retryInMs: waitMs,
            hint: registerHint(result),
          },
          "register failed; retrying",
        );
        await pause(waitMs, ctx.halt);
      }
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  };
}
