import path from "node:path";
import * as z from "zod";
import type { AgentAuthContext, AgentAuthMethod, AgentAuthResult } from "./agent-auth.js";
import { type CredentialContext, failResult, nonEmpty, okResult, readJsonFile } from "./probe-util.js";

// The built-in credential probes. They carry no agent id and no re-login hint: the registry
// (agents.ts) pairs each with its descriptor, and `checkAgentAuth` appends the descriptor's hint.
// Token-free and network-free: files and env only (agent-auth.test.ts checks the imports).

export { checkCodexCredentials, codexCredentialFiles } from "./codex-probe.js";
export { checkGeminiCliCredentials, geminiCliCredentialFiles } from "./gemini-probe.js";
export { checkEndpointCredentials } from "./ollama-probe.js";
export { describeJsonError, nonEmpty } from "./probe-util.js";

// Untrusted file: every field is optional and a wrong type reads as absent.
const OAuthSchema = z
  .object({
    accessToken: z.string().optional().catch(undefined),
    refreshToken: z.string().optional().catch(undefined),
    expiresAt: z.union([z.number(), z.string()]).optional().catch(undefined),
    scopes: z.unknown().optional(),
  })
  .loose();
const ClaudeCredentialsSchema = z.object({ claudeAiOauth: OAuthSchema.optional().catch(undefined) }).loose();

function parseExpiresAt(value: number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "number" ? value : value.trim() === "" ? Number.NaN : Number(value);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function scopesOf(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === "string");
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

/** Claude Code's credentials file: `<CLAUDE_CONFIG_DIR or home/.claude>/.credentials.json`. @internal */
export function claudeCodeCredentialFiles(ctx: CredentialContext): string[] {
  const configDir = nonEmpty(ctx.env.CLAUDE_CONFIG_DIR)
    ? path.resolve(ctx.env.CLAUDE_CONFIG_DIR)
    : path.join(ctx.home, ".claude");
  return [path.join(configDir, ".credentials.json")];
}

/** Claude Code: the key/token env vars, else the OAuth credentials file (scope, expiry). @internal */
export async function checkClaudeCodeCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  const envMethods: Array<[string, AgentAuthMethod, string]> = [
    ["ANTHROPIC_API_KEY", "api-key-env", "sent as x-api-key"],
    ["CLAUDE_CODE_OAUTH_TOKEN", "oauth-token-env", "sent as Authorization: Bearer"],
    ["ANTHROPIC_AUTH_TOKEN", "auth-token-env", "sent as Authorization: Bearer"],
  ];
  const setVars = envMethods.filter(([name]) => nonEmpty(ctx.env[name]));
  const first = setVars[0];
  if (first) {
    const warnings =
      setVars.length > 1
        ? [
            `several credentials are set in the environment (${setVars.map(([n]) => n).join(", ")}); ${first[0]} is assumed to win`,
          ]
        : [];
    return okResult("ok", first[1], `${first[0]} is set in the environment (${first[2]})`, warnings);
  }

  const [file = ""] = claudeCodeCredentialFiles(ctx);
  const read = await readJsonFile(file);
  if (read.kind === "missing") {
    return failResult("missing", `no Claude Code credentials: ${file} does not exist and no credential env var is set`);
  }
  if (read.kind === "unreadable") {
    return failResult("unreadable", `Claude Code credentials unreadable: ${read.reason}`, {
      method: "oauth-file",
    });
  }
  const parsed = ClaudeCredentialsSchema.safeParse(read.value);
  const oauth = parsed.success ? parsed.data.claudeAiOauth : undefined;
  if (!oauth || !nonEmpty(oauth.accessToken)) {
    return failResult("no-token", `${file} has no claudeAiOauth.accessToken (the CLI is logged out)`, {
      method: "oauth-file",
    });
  }
  const warnings: string[] = [];
  const scopes = scopesOf(oauth.scopes);
  if (scopes === undefined) {
    warnings.push(
      `${file} lists no scopes: older CLIs wrote none, but current ones (Claude Code 2.1.197 measured) treat a token without "user:inference" as logged out — run \`claude /login\` again if turns say "Not logged in"`,
    );
  } else if (!scopes.includes("user:inference")) {
    return failResult(
      "no-scope",
      `the token in ${file} lacks the "user:inference" scope, so the CLI treats it as logged out`,
      { method: "oauth-file" },
    );
  }
  const expiresAt = parseExpiresAt(oauth.expiresAt);
  if (oauth.expiresAt !== undefined && expiresAt === undefined) {
    warnings.push(`${file} has an expiresAt that is not epoch milliseconds; expiry cannot be checked`);
  }
  const withExpiry = (result: AgentAuthResult) => {
    if (expiresAt !== undefined) result.expiresAt = expiresAt;
    return result;
  };
  if (expiresAt === undefined) {
    return okResult("ok", "oauth-file", `OAuth credentials in ${file}`, warnings);
  }
  const iso = new Date(expiresAt).toISOString();
  if (expiresAt <= ctx.now + ctx.skewSeconds * 1000) {
    if (nonEmpty(oauth.refreshToken)) {
      warnings.push(`the access token expired at ${iso}; the CLI will refresh it over the network on its next call`);
      return withExpiry(
        okResult(
          "refreshable",
          "oauth-file",
          `OAuth access token in ${file} expired at ${iso} but can be refreshed`,
          warnings,
        ),
      );
    }
    return withExpiry(
      failResult("expired", `the OAuth token in ${file} expired at ${iso} and there is no refresh token`, {
        method: "oauth-file",
        warnings,
      }),
    );
  }
  if (expiresAt <= ctx.now + ctx.expiringWithinSeconds * 1000) {
    warnings.push(`the access token expires at ${iso}`);
    return withExpiry(
      okResult("expiring", "oauth-file", `OAuth access token in ${file} expires soon, at ${iso}`, warnings),
    );
  }
  return withExpiry(okResult("ok", "oauth-file", `OAuth credentials in ${file}, valid until ${iso}`, warnings));
}
