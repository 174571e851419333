import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as z from "zod";
import type { AgentAuthContext, AgentAuthMethod, AgentAuthResult, AgentAuthState } from "./agent-auth.js";
import { errnoCode } from "./errors.js";

// The built-in credential probes. They carry no agent id and no re-login hint: the registry
// (agents.ts) pairs each with its descriptor, and `checkAgentAuth` appends the descriptor's hint.
// Token-free and network-free: files and env only (agent-auth.test.ts checks the imports).

type CredentialContext = Pick<AgentAuthContext, "home" | "env">;

const MAX_CREDENTIALS_BYTES = 1024 * 1024;

/** @internal */
export const nonEmpty = (value: string | undefined): value is string =>
  typeof value === "string" && value.trim() !== "";

function okResult(
  state: "ok" | "expiring" | "refreshable",
  method: AgentAuthMethod,
  reason: string,
  warnings: string[] = [],
) {
  const result: AgentAuthResult = { ok: true, state, reason, warnings, method };
  return result;
}

function failResult(state: AgentAuthState, reason: string, extra: Partial<AgentAuthResult> = {}): AgentAuthResult {
  return { ok: false, state, reason, warnings: [], ...extra };
}

/**
 * Describes a JSON.parse failure without quoting the input: V8 messages can contain a snippet of
 * the text ("Unexpected token 'x', \"…\" is not valid JSON"), and the text is a credential.
 * @internal
 */
export function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/unexpected end of json input/i.test(message)) return "unexpected end of JSON input (truncated file?)";
  const position = /at position (\d+)/i.exec(message)?.[1];
  const what = /^([A-Za-z][A-Za-z ,'{}:\][]*?) (?:in JSON )?at position/i.exec(message)?.[1];
  if (position !== undefined) {
    // Grammar characters come in single quotes ("Expected ',' or '}'"); input would be double-quoted.
    const clean = (what ?? "syntax error")
      .replace(/"[^"]*"?/g, "")
      .replace(/'[^']{2,}'/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return `${clean} at position ${position}`;
  }
  if (/^unexpected token/i.test(message)) return "unexpected token";
  return "not valid JSON";
}

type FileRead = { kind: "missing" } | { kind: "unreadable"; reason: string } | { kind: "json"; value: unknown };

async function readJsonFile(file: string): Promise<FileRead> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { kind: "unreadable", reason: `${file} is not a regular file` };
    if (st.size > MAX_CREDENTIALS_BYTES) {
      return { kind: "unreadable", reason: `${file} is ${st.size} bytes, too large for a credentials file` };
    }
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "unreadable", reason: `${file} cannot be read (${code ?? "error"})` };
  }
  try {
    return { kind: "json", value: JSON.parse(text) };
  } catch (error) {
    return { kind: "unreadable", reason: `${file} is not valid JSON (${describeJsonError(error)})` };
  }
}

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

const CodexAuthSchema = z
  .object({
    OPENAI_API_KEY: z.string().nullish().catch(undefined),
    tokens: z
      .object({ access_token: z.string().optional().catch(undefined) })
      .loose()
      .nullish()
      .catch(undefined),
  })
  .loose();

/** Codex's login file: `<CODEX_HOME or home/.codex>/auth.json`. @internal */
export function codexCredentialFiles(ctx: CredentialContext): string[] {
  const codexHome = nonEmpty(ctx.env.CODEX_HOME) ? path.resolve(ctx.env.CODEX_HOME) : path.join(ctx.home, ".codex");
  return [path.join(codexHome, "auth.json")];
}

/** Codex: `OPENAI_API_KEY`, else an API key or login tokens in its auth.json. @internal */
export async function checkCodexCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  if (nonEmpty(ctx.env.OPENAI_API_KEY)) {
    return okResult("ok", "api-key-env", "OPENAI_API_KEY is set in the environment");
  }
  const [file = ""] = codexCredentialFiles(ctx);
  const read = await readJsonFile(file);
  if (read.kind === "missing") {
    return failResult("missing", `no Codex credentials: ${file} does not exist and OPENAI_API_KEY is not set`);
  }
  if (read.kind === "unreadable") {
    return failResult("unreadable", `Codex credentials unreadable: ${read.reason}`, {
      method: "oauth-file",
    });
  }
  const parsed = CodexAuthSchema.safeParse(read.value);
  const data = parsed.success ? parsed.data : undefined;
  if (data && nonEmpty(data.OPENAI_API_KEY ?? undefined)) {
    return okResult("ok", "oauth-file", `API key stored in ${file}`);
  }
  if (data && nonEmpty(data.tokens?.access_token)) {
    return okResult("ok", "oauth-file", `ChatGPT login tokens in ${file}`);
  }
  return failResult("no-token", `${file} holds neither an API key nor login tokens`, {
    method: "oauth-file",
  });
}

/** Gemini CLI: `GEMINI_API_KEY` (no file is read). @internal */
export async function checkGeminiCliCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  if (nonEmpty(ctx.env.GEMINI_API_KEY)) {
    return okResult("ok", "api-key-env", "GEMINI_API_KEY is set in the environment");
  }
  return failResult("missing", "GEMINI_API_KEY is not set");
}
