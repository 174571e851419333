import path from "node:path";
import * as z from "zod";
import type { AgentAuthContext, AgentAuthProbe, AgentAuthResult } from "./agent-auth.js";
import { type AgentHome, homeOf } from "./agent-homes.js";
import { type CredentialContext, failResult, nonEmpty, okResult, readJsonFile } from "./probe-util.js";

// Codex CLI 0.169.0 (measured; docs/AGENTS.md): `codex exec` sends `CODEX_API_KEY`, else the key or
// the ChatGPT access token in `$CODEX_HOME/auth.json`. It ignores `OPENAI_API_KEY` on its built-in
// provider, and silently ignores a malformed auth.json (the turn goes out unauthenticated).

const CodexAuthSchema = z
  .object({
    OPENAI_API_KEY: z.string().nullish().catch(undefined),
    tokens: z
      .object({
        access_token: z.string().optional().catch(undefined),
        refresh_token: z.string().optional().catch(undefined),
      })
      .loose()
      .nullish()
      .catch(undefined),
  })
  .loose();

/** Codex's home: `CODEX_HOME`, else `<stateDir>/agents/codex`, else `~/.codex`. @internal */
export const CODEX_HOME: AgentHome = Object.freeze({
  id: "codex",
  env: "CODEX_HOME",
  cliDefault: (home: string) => path.join(home, ".codex"),
});

/** Codex's login file: `<codex home>/auth.json` (see `agentHomeDir`). @internal */
export function codexCredentialFiles(ctx: CredentialContext): string[] {
  return [path.join(homeOf(CODEX_HOME, ctx), "auth.json")];
}

/** The `exp` claim (epoch ms) of a JWT, decoded offline without verifying it; undefined if absent. @internal */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || payload === "") return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims !== "object" || claims === null) return undefined;
    const exp = (claims as Record<string, unknown>).exp;
    return typeof exp === "number" && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The variable of the custom model provider the runtime runs Codex with when
 * `runtime_config.base_url` is set (its `env_key`).
 */
const BASE_URL_ENV_KEY = "CODEX_API_KEY";

export interface CodexProbeOptions {
  /**
   * The env var of the custom model provider the executor runs Codex with (`env_key`), when there
   * is one: that variable is then the only credential (Codex exits "Missing environment variable"
   * without it, whatever auth.json holds). Default: `CODEX_API_KEY` when the context has a
   * `baseUrl` (the runtime's provider), else none — the built-in provider, which reads
   * `CODEX_API_KEY`, then auth.json, and ignores `OPENAI_API_KEY`.
   */
  providerEnvKey?: string | undefined;
}

async function checkCodex(ctx: AgentAuthContext, options: CodexProbeOptions): Promise<AgentAuthResult> {
  const envKey = nonEmpty(options.providerEnvKey)
    ? options.providerEnvKey
    : nonEmpty(ctx.baseUrl)
      ? BASE_URL_ENV_KEY
      : undefined;
  if (envKey !== undefined) {
    // A custom provider with env_key fails at once without the variable, whatever auth.json holds.
    const why = nonEmpty(ctx.baseUrl)
      ? "runtime_config.base_url runs Codex with a model provider that"
      : "the model provider";
    if (nonEmpty(ctx.env[envKey])) {
      return okResult("ok", "api-key-env", `${envKey} is set in the environment (the model provider's env_key)`);
    }
    return failResult(
      "missing",
      `${why} reads its key only from ${envKey}, which is not set (a \`codex login\` in auth.json does not count: Codex exits "Missing environment variable")`,
      { fix: `Set ${envKey} in the runtime's environment to the model API's key.` },
    );
  }
  if (nonEmpty(ctx.env.CODEX_API_KEY)) {
    return okResult("ok", "api-key-env", "CODEX_API_KEY is set in the environment");
  }
  const [file = ""] = codexCredentialFiles(ctx);
  const ignored = nonEmpty(ctx.env.OPENAI_API_KEY) ? " (OPENAI_API_KEY is set, but Codex does not use it)" : "";
  const read = await readJsonFile(file);
  if (read.kind === "missing") {
    return failResult("missing", `no Codex credentials: ${file} does not exist and CODEX_API_KEY is not set${ignored}`);
  }
  if (read.kind === "unreadable") {
    return failResult("unreadable", `Codex credentials unreadable: ${read.reason}; Codex ignores such a file`, {
      method: "oauth-file",
    });
  }
  const parsed = CodexAuthSchema.safeParse(read.value);
  const data = parsed.success ? parsed.data : undefined;
  if (data && nonEmpty(data.OPENAI_API_KEY ?? undefined)) {
    return okResult("ok", "api-key-file", `API key stored in ${file}`);
  }
  const tokens = data?.tokens;
  if (!tokens || !nonEmpty(tokens.access_token)) {
    return failResult("no-token", `${file} holds neither an API key nor ChatGPT login tokens${ignored}`, {
      method: "oauth-file",
    });
  }
  const expiresAt = jwtExpiry(tokens.access_token);
  if (expiresAt === undefined) {
    return okResult("ok", "oauth-file", `ChatGPT login tokens in ${file}`, [
      `the access token in ${file} states no expiry; it cannot be checked offline`,
    ]);
  }
  const iso = new Date(expiresAt).toISOString();
  if (expiresAt <= ctx.now + ctx.skewSeconds * 1000) {
    if (nonEmpty(tokens.refresh_token)) {
      return {
        ...okResult(
          "refreshable",
          "oauth-file",
          `ChatGPT access token in ${file} expired at ${iso} but can be refreshed`,
          [`the access token expired at ${iso}; Codex refreshes it over the network on its next call`],
        ),
        expiresAt,
      };
    }
    return failResult(
      "expired",
      `the ChatGPT access token in ${file} expired at ${iso} and there is no refresh token`,
      {
        method: "oauth-file",
        expiresAt,
      },
    );
  }
  if (expiresAt <= ctx.now + ctx.expiringWithinSeconds * 1000) {
    return {
      ...okResult("expiring", "oauth-file", `ChatGPT access token in ${file} expires soon, at ${iso}`, [
        `the access token expires at ${iso}`,
      ]),
      expiresAt,
    };
  }
  return { ...okResult("ok", "oauth-file", `ChatGPT login tokens in ${file}, valid until ${iso}`), expiresAt };
}

/** Codex (built-in provider): `CODEX_API_KEY`, else the key or ChatGPT tokens in auth.json. @internal */
export function checkCodexCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  return checkCodex(ctx, {});
}

/**
 * Codex's credential probe for an executor that runs it with a custom model provider whose
 * `env_key` is `providerEnvKey` (then that variable is the credential). Without options it is the
 * built-in probe: `CODEX_API_KEY`, else `$CODEX_HOME/auth.json`.
 */
export function createCodexAuthProbe(options: CodexProbeOptions = {}): AgentAuthProbe {
  return Object.freeze({
    check: (ctx: AgentAuthContext) => checkCodex(ctx, options),
    credentialFiles: codexCredentialFiles,
  });
}
