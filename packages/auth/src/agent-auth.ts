import { readFile, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as z from "zod";
import type { Clock } from "./clock.js";
import { AuthError, errnoCode } from "./errors.js";

/** Where the agent's credentials stand, from the files and env alone. */
export type AgentAuthState =
  | "ok"
  | "expiring"
  | "refreshable"
  | "expired"
  | "missing"
  | "unreadable"
  | "no-token"
  | "no-scope";

/** Which credential the verdict is based on. */
export type AgentAuthMethod = "oauth-file" | "api-key-env" | "oauth-token-env" | "auth-token-env";

export interface AgentAuthResult {
  /** True when the agent can be expected to authenticate (states ok, expiring, refreshable). */
  ok: boolean;
  state: AgentAuthState;
  /** One sentence for an operator: what was found and, when not ok, what to do. Never a secret. */
  reason: string;
  warnings: string[];
  /** The access token's expiry, epoch ms, when the credentials file states one. */
  expiresAt?: number;
  method?: AgentAuthMethod;
}

/** The agents with a built-in probe. */
export type KnownAgent = "claude-code" | "codex" | "gemini-cli";

/** What a probe gets: everything resolved, nothing read yet. */
export interface AgentAuthContext {
  home: string;
  env: Record<string, string | undefined>;
  /** epoch ms */
  now: number;
  skewSeconds: number;
  expiringWithinSeconds: number;
}

/**
 * One agent's token-free, network-free credential check. Built in: `claude-code`, `codex`,
 * `gemini-cli`; pass your own as `checkAgentAuth({ agent, probe })` for any other agent.
 */
export interface AgentAuthProbe {
  readonly agent: string;
  check(context: AgentAuthContext): Promise<AgentAuthResult>;
}

export interface CheckAgentAuthOptions {
  /** Which agent's credentials to check. */
  agent: KnownAgent | (string & {});
  /** Home directory. Default `env.HOME`, then `os.homedir()`. */
  home?: string;
  /** Environment to read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Gives "now" for expiry. Default: the real clock. */
  clock?: Pick<Clock, "now">;
  /** A token expiring within this many seconds counts as expired. Default 60. */
  skewSeconds?: number;
  /** A token expiring within this many seconds is `expiring` (still ok). Default 3600. */
  expiringWithinSeconds?: number;
  /** A probe for an agent without a built-in one (or to replace the built-in one). */
  probe?: AgentAuthProbe;
}

const MAX_CREDENTIALS_BYTES = 1024 * 1024;

const nonEmpty = (value: string | undefined): value is string => typeof value === "string" && value.trim() !== "";

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

const LOGIN_HINT =
  "run `claude /login` (or `claude setup-token`) as this user, or set ANTHROPIC_API_KEY / CLAUDE_CODE_OAUTH_TOKEN";

const claudeCodeProbe: AgentAuthProbe = {
  agent: "claude-code",
  async check(ctx) {
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

    const configDir = nonEmpty(ctx.env.CLAUDE_CONFIG_DIR)
      ? path.resolve(ctx.env.CLAUDE_CONFIG_DIR)
      : path.join(ctx.home, ".claude");
    const file = path.join(configDir, ".credentials.json");
    const read = await readJsonFile(file);
    if (read.kind === "missing") {
      return failResult(
        "missing",
        `no Claude Code credentials: ${file} does not exist and no credential env var is set; ${LOGIN_HINT}`,
      );
    }
    if (read.kind === "unreadable") {
      return failResult("unreadable", `Claude Code credentials unreadable: ${read.reason}; ${LOGIN_HINT}`, {
        method: "oauth-file",
      });
    }
    const parsed = ClaudeCredentialsSchema.safeParse(read.value);
    const oauth = parsed.success ? parsed.data.claudeAiOauth : undefined;
    if (!oauth || !nonEmpty(oauth.accessToken)) {
      return failResult("no-token", `${file} has no claudeAiOauth.accessToken (the CLI is logged out); ${LOGIN_HINT}`, {
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
        `the token in ${file} lacks the "user:inference" scope, so the CLI treats it as logged out; ${LOGIN_HINT}`,
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
        failResult(
          "expired",
          `the OAuth token in ${file} expired at ${iso} and there is no refresh token; ${LOGIN_HINT}`,
          {
            method: "oauth-file",
            warnings,
          },
        ),
      );
    }
    if (expiresAt <= ctx.now + ctx.expiringWithinSeconds * 1000) {
      warnings.push(`the access token expires at ${iso}`);
      return withExpiry(
        okResult("expiring", "oauth-file", `OAuth access token in ${file} expires soon, at ${iso}`, warnings),
      );
    }
    return withExpiry(okResult("ok", "oauth-file", `OAuth credentials in ${file}, valid until ${iso}`, warnings));
  },
};

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

const CODEX_HINT = "run `codex login` as this user, or set OPENAI_API_KEY";

const codexProbe: AgentAuthProbe = {
  agent: "codex",
  async check(ctx) {
    if (nonEmpty(ctx.env.OPENAI_API_KEY)) {
      return okResult("ok", "api-key-env", "OPENAI_API_KEY is set in the environment");
    }
    const codexHome = nonEmpty(ctx.env.CODEX_HOME) ? path.resolve(ctx.env.CODEX_HOME) : path.join(ctx.home, ".codex");
    const file = path.join(codexHome, "auth.json");
    const read = await readJsonFile(file);
    if (read.kind === "missing") {
      return failResult(
        "missing",
        `no Codex credentials: ${file} does not exist and OPENAI_API_KEY is not set; ${CODEX_HINT}`,
      );
    }
    if (read.kind === "unreadable") {
      return failResult("unreadable", `Codex credentials unreadable: ${read.reason}; ${CODEX_HINT}`, {
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
    return failResult("no-token", `${file} holds neither an API key nor login tokens; ${CODEX_HINT}`, {
      method: "oauth-file",
    });
  },
};

const geminiCliProbe: AgentAuthProbe = {
  agent: "gemini-cli",
  async check(ctx) {
    if (nonEmpty(ctx.env.GEMINI_API_KEY)) {
      return okResult("ok", "api-key-env", "GEMINI_API_KEY is set in the environment");
    }
    return failResult("missing", "GEMINI_API_KEY is not set; set it in the workspace environment");
  },
};

const PROBES: Record<KnownAgent, AgentAuthProbe> = {
  "claude-code": claudeCodeProbe,
  codex: codexProbe,
  "gemini-cli": geminiCliProbe,
};

const isKnownAgent = (agent: string): agent is KnownAgent => Object.hasOwn(PROBES, agent);

function seconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message: `checkAgentAuth: ${name} must be a number of seconds >= 0, got ${String(value)}`,
    });
  }
  return value;
}

/**
 * Token-free, network-free check of an agent CLI's credentials: reads env vars and the agent's
 * credentials file, never runs the CLI, never sends anything. Rejects only for bad options or an
 * agent without a probe (`E_AUTH_BAD_OPTIONS`, `E_AUTH_UNKNOWN_AGENT`).
 */
export async function checkAgentAuth(options: CheckAgentAuthOptions): Promise<AgentAuthResult> {
  if (typeof options !== "object" || options === null || typeof options.agent !== "string") {
    throw new AuthError({
      code: "E_AUTH_BAD_OPTIONS",
      message: 'checkAgentAuth needs { agent }, e.g. { agent: "claude-code" }',
    });
  }
  const probe = options.probe ?? (isKnownAgent(options.agent) ? PROBES[options.agent] : undefined);
  if (!probe) {
    throw new AuthError({
      code: "E_AUTH_UNKNOWN_AGENT",
      message: `no credential probe for agent "${options.agent}"; use one of ${Object.keys(PROBES).join(", ")} or pass { probe }`,
    });
  }
  const env = options.env ?? process.env;
  const home = options.home ?? (nonEmpty(env.HOME) ? env.HOME : os.homedir());
  return probe.check({
    home,
    env,
    now: (options.clock ?? Date).now(),
    skewSeconds: seconds("skewSeconds", options.skewSeconds, 60),
    expiringWithinSeconds: seconds("expiringWithinSeconds", options.expiringWithinSeconds, 3600),
  });
}
