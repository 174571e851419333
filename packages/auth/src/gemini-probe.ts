import path from "node:path";
import * as z from "zod";
import type { AgentAuthContext, AgentAuthResult } from "./agent-auth.js";
import { type AgentHome, homeOf } from "./agent-homes.js";
import { findGeminiDotenv, stripJsonComments } from "./gemini-env.js";
import { type CredentialContext, failResult, nonEmpty, okResult, readJsonFile, readSmallFile } from "./probe-util.js";

// Gemini CLI 0.61.0 (measured; docs/AGENTS.md): the auth type is settings.json's
// `security.auth.selectedType`, else derived from env; then the credential that type needs.

const SettingsSchema = z
  .object({
    // The pre-v2 settings key, still migrated by the CLI.
    selectedAuthType: z.string().optional().catch(undefined),
    security: z
      .object({
        auth: z
          .object({
            selectedType: z.string().optional().catch(undefined),
            useExternal: z.boolean().optional().catch(undefined),
          })
          .loose()
          .optional()
          .catch(undefined),
      })
      .loose()
      .optional()
      .catch(undefined),
  })
  .loose();

const OAuthCredsSchema = z
  .object({
    access_token: z.string().nullish().catch(undefined),
    refresh_token: z.string().nullish().catch(undefined),
    expiry_date: z.number().nullish().catch(undefined),
  })
  .loose();

/** Gemini CLI's home (the dir holding `.gemini`): `GEMINI_CLI_HOME`, else `<stateDir>/agents/gemini-cli`, else `~`. @internal */
export const GEMINI_CLI_HOME: AgentHome = Object.freeze({
  id: "gemini-cli",
  env: "GEMINI_CLI_HOME",
  cliDefault: (home: string) => home,
});

const dirOf = (ctx: CredentialContext) => path.join(homeOf(GEMINI_CLI_HOME, ctx), ".gemini");

/** settings.json, oauth_creds.json and the encrypted gemini-credentials.json. @internal */
export function geminiCliCredentialFiles(ctx: CredentialContext): string[] {
  const dir = dirOf(ctx);
  return ["settings.json", "oauth_creds.json", "gemini-credentials.json"].map((name) => path.join(dir, name));
}

const isTrue = (value: string | undefined) => value?.trim().toLowerCase() === "true" || value?.trim() === "1";

/** The auth type Gemini CLI derives from env when settings.json names none. */
function typeFromEnv(env: Record<string, string | undefined>): string | undefined {
  if (isTrue(env.GOOGLE_GENAI_USE_GCA)) return "oauth-personal";
  if (isTrue(env.GOOGLE_GENAI_USE_VERTEXAI)) return "vertex-ai";
  if (nonEmpty(env.GOOGLE_GEMINI_BASE_URL)) return "gateway";
  if (nonEmpty(env.GEMINI_API_KEY)) return "gemini-api-key";
  if (isTrue(env.CLOUD_SHELL) || isTrue(env.GEMINI_CLI_USE_COMPUTE_ADC)) return "compute-default-credentials";
  return undefined;
}

async function checkOAuth(ctx: AgentAuthContext, dir: string, source: string): Promise<AgentAuthResult> {
  const file = path.join(dir, "oauth_creds.json");
  const encrypted = path.join(dir, "gemini-credentials.json");
  if (isTrue(ctx.env.GEMINI_FORCE_ENCRYPTED_FILE_STORAGE)) {
    if ((await readSmallFile(encrypted)).kind === "text") {
      return okResult("ok", "oauth-file", `Google login (${source}) stored encrypted in ${encrypted}`, [
        `${encrypted} is encrypted, so the login cannot be checked token-free`,
      ]);
    }
  }
  const read = await readJsonFile(file);
  if (read.kind === "missing") {
    return failResult("missing", `Gemini CLI uses a Google login (${source}) but ${file} does not exist`);
  }
  if (read.kind === "unreadable") {
    return failResult("unreadable", `Gemini CLI login unreadable: ${read.reason}`, { method: "oauth-file" });
  }
  const parsed = OAuthCredsSchema.safeParse(read.value);
  const creds = parsed.success ? parsed.data : undefined;
  const refreshable = nonEmpty(creds?.refresh_token ?? undefined);
  if (!creds || (!nonEmpty(creds.access_token ?? undefined) && !refreshable)) {
    return failResult("no-token", `${file} holds no Google OAuth token`, { method: "oauth-file" });
  }
  const expiresAt = creds.expiry_date ?? undefined;
  const online = "Gemini CLI verifies it over the network at every start";
  if (expiresAt === undefined || !Number.isFinite(expiresAt) || expiresAt <= 0) {
    return okResult("ok", "oauth-file", `Google OAuth credentials in ${file} (${online})`);
  }
  const iso = new Date(expiresAt).toISOString();
  if (expiresAt <= ctx.now + ctx.skewSeconds * 1000) {
    if (refreshable) {
      return {
        ...okResult(
          "refreshable",
          "oauth-file",
          `Google access token in ${file} expired at ${iso} but can be refreshed`,
          [`the access token expired at ${iso}; Gemini CLI refreshes it over the network on its next start`],
        ),
        expiresAt,
      };
    }
    return failResult("expired", `the Google access token in ${file} expired at ${iso} and there is no refresh token`, {
      method: "oauth-file",
      expiresAt,
    });
  }
  if (expiresAt <= ctx.now + ctx.expiringWithinSeconds * 1000 && !refreshable) {
    return {
      ...okResult("expiring", "oauth-file", `Google access token in ${file} expires soon, at ${iso}`, [
        `the access token expires at ${iso}`,
      ]),
      expiresAt,
    };
  }
  return {
    ...okResult("ok", "oauth-file", `Google OAuth credentials in ${file}, valid until ${iso} (${online})`),
    expiresAt,
  };
}

/**
 * Gemini CLI: the auth type from settings.json (else env), then its credential: `GEMINI_API_KEY`
 * (env or a `.env` file) for `gemini-api-key`, `oauth_creds.json` for `oauth-personal`, the Vertex
 * variables for `vertex-ai`. With a `baseUrl` the runtime forces `gemini-api-key` (the only type
 * that honours `GOOGLE_GEMINI_BASE_URL` non-interactively), whatever settings.json selects. @internal
 */
export async function checkGeminiCliCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  const home = homeOf(GEMINI_CLI_HOME, ctx);
  const dir = dirOf(ctx);
  const settingsFile = path.join(dir, "settings.json");
  const settings = await readJsonFile(settingsFile, (text) => JSON.parse(stripJsonComments(text)));
  if (settings.kind === "unreadable") {
    return failResult("unreadable", `Gemini CLI settings unreadable: ${settings.reason}`);
  }
  const parsed = settings.kind === "json" ? SettingsSchema.safeParse(settings.value).data : undefined;
  const auth = parsed?.security?.auth;
  // A `.env` file fills in variables the environment lacks (only when no env var is set).
  const dotenv = await findGeminiDotenv(ctx.cwd, home, isTrue(ctx.env.GEMINI_CLI_TRUST_WORKSPACE));
  const env: Record<string, string | undefined> = { ...dotenv?.vars, ...definedOnly(ctx.env) };
  const where = (name: string) => (nonEmpty(ctx.env[name]) || !dotenv ? "in the environment" : `in ${dotenv.file}`);

  const legacy = nonEmpty(parsed?.selectedAuthType) ? parsed.selectedAuthType : undefined;
  const selected = nonEmpty(auth?.selectedType) ? auth.selectedType : legacy;
  const forced = nonEmpty(ctx.baseUrl);
  const type = forced ? "gemini-api-key" : (selected ?? typeFromEnv(env));
  const source = forced
    ? "set by the runtime for runtime_config.base_url"
    : selected
      ? `selectedType "${selected}" in ${settingsFile}`
      : `derived from the environment`;
  switch (type) {
    case undefined:
      return failResult(
        "missing",
        `Gemini CLI has no auth type: ${settingsFile} sets no security.auth.selectedType and none of GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA is set (it exits 41)`,
      );
    case "gemini-api-key": {
      if (nonEmpty(env.GEMINI_API_KEY)) {
        return okResult(
          "ok",
          "api-key-env",
          `GEMINI_API_KEY is set ${where("GEMINI_API_KEY")} (auth type gemini-api-key, ${source})`,
        );
      }
      const encrypted = path.join(dir, "gemini-credentials.json");
      if ((await readSmallFile(encrypted)).kind === "text") {
        return okResult("ok", "api-key-file", `an API key may be stored encrypted in ${encrypted}`, [
          `${encrypted} is encrypted, so the key cannot be checked token-free`,
        ]);
      }
      const ignored =
        forced && selected && selected !== "gemini-api-key" ? ` (the "${selected}" login does not count)` : "";
      return failResult(
        "missing",
        `Gemini CLI's auth type is gemini-api-key (${source}) but GEMINI_API_KEY is not set${ignored}`,
        forced
          ? {
              fix: "Set GEMINI_API_KEY in the runtime's environment to the model API's key (with runtime_config.base_url a Google login or Vertex variables do not count).",
            }
          : {},
      );
    }
    case "vertex-ai": {
      if (nonEmpty(env.GOOGLE_API_KEY)) {
        return okResult("ok", "vertex-env", `Vertex AI with GOOGLE_API_KEY set ${where("GOOGLE_API_KEY")}`);
      }
      if (nonEmpty(env.GOOGLE_CLOUD_PROJECT) && nonEmpty(env.GOOGLE_CLOUD_LOCATION)) {
        return okResult("ok", "vertex-env", "Vertex AI with GOOGLE_CLOUD_PROJECT and GOOGLE_CLOUD_LOCATION set");
      }
      return failResult(
        "missing",
        `Gemini CLI's auth type is vertex-ai (${source}) but neither GOOGLE_API_KEY nor GOOGLE_CLOUD_PROJECT with GOOGLE_CLOUD_LOCATION is set`,
      );
    }
    case "oauth-personal":
      return checkOAuth(ctx, dir, source);
    case "compute-default-credentials":
    case "cloud-shell":
      return okResult(
        "ok",
        "adc",
        `Gemini CLI uses Application Default Credentials (${source}); they are checked online only`,
      );
    case "gateway":
      if (auth?.useExternal === true) {
        return okResult(
          "ok",
          "adc",
          `Gemini CLI uses an external gateway (security.auth.useExternal in ${settingsFile})`,
        );
      }
      return failResult(
        "missing",
        `Gemini CLI's auth type is gateway (${source}; GOOGLE_GEMINI_BASE_URL without a selectedType selects it), which it rejects: set security.auth.selectedType to "gemini-api-key" in ${settingsFile}`,
      );
    default:
      return failResult("missing", `Gemini CLI's auth type "${type}" (${source}) is not one it knows`);
  }
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (nonEmpty(value)) out[key] = value;
  return out;
}
