import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AgentAuthProbe, checkAgentAuth } from "./agent-auth.js";
import { agentHomeDir } from "./agent-home-dir.js";
import { describeJsonError } from "./agent-probes.js";
import { getAgent } from "./agents.js";
import { createCodexAuthProbe } from "./codex-probe.js";
import { AuthError } from "./errors.js";

const NOW = Date.parse("2030-01-01T00:00:00.000Z");
const clock = createFakeClock(NOW);
const SECRET = "sk-ant-oat01-SECRETSECRETSECRET";
const REFRESH = "sk-ant-ort01-REFRESHREFRESH";

let home: string;
let claudeDir: string;
let credentials: string;

const writeCreds = async (value: unknown) => {
  await mkdir(claudeDir, { recursive: true });
  await writeFile(credentials, typeof value === "string" ? value : JSON.stringify(value));
};
const oauth = (fields: Record<string, unknown>) => ({ claudeAiOauth: { accessToken: SECRET, ...fields } });
const check = (extra: Partial<Parameters<typeof checkAgentAuth>[0]> = {}) =>
  checkAgentAuth({ agent: "claude-code", home, env: {}, clock, ...extra });
const expectNoSecret = (result: object) => {
  const text = JSON.stringify(result);
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(REFRESH);
};

beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), "auth-agent-"));
  claudeDir = path.join(home, ".claude");
  credentials = path.join(claudeDir, ".credentials.json");
});
afterEach(async () => {
  await chmod(credentials, 0o600).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
});

describe("claude-code: env credentials", () => {
  it.each([
    ["ANTHROPIC_API_KEY", "api-key-env"],
    ["CLAUDE_CODE_OAUTH_TOKEN", "oauth-token-env"],
    ["ANTHROPIC_AUTH_TOKEN", "auth-token-env"],
  ] as const)("%s set → ok by env, method %s, reason names the variable", async (name, method) => {
    const result = await check({ env: { [name]: SECRET } });
    expect(result).toMatchObject({ ok: true, state: "ok", method });
    expect(result.reason).toContain(name);
    expectNoSecret(result);
  });

  it("an empty or whitespace env var does not count", async () => {
    const result = await check({ env: { ANTHROPIC_API_KEY: "", CLAUDE_CODE_OAUTH_TOKEN: "  " } });
    expect(result).toMatchObject({ ok: false, state: "missing" });
  });

  it("env wins over a broken credentials file", async () => {
    await writeCreds("{not json");
    expect(await check({ env: { ANTHROPIC_AUTH_TOKEN: SECRET } })).toMatchObject({
      ok: true,
      method: "auth-token-env",
    });
  });
});

describe("claude-code: credentials file", () => {
  it("missing file → missing", async () => {
    const result = await check();
    expect(result).toMatchObject({ ok: false, state: "missing" });
    expect(result.reason).toContain(credentials);
  });

  it("invalid JSON → unreadable, with the parse error but never the content", async () => {
    await writeCreds(`{"claudeAiOauth": {"accessToken": ${SECRET}}}`);
    const result = await check();
    expect(result).toMatchObject({ ok: false, state: "unreadable" });
    expect(result.reason).toMatch(/not valid JSON \(.+\)/);
    expectNoSecret(result);
    expect(result.reason).not.toContain("SECRET");
  });

  it("a truncated file → unreadable, says so", async () => {
    await writeCreds(`{"claudeAiOauth": {"accessToken": "${SECRET}`);
    const result = await check();
    expect(result.state).toBe("unreadable");
    expect(result.reason).toMatch(/Unterminated string at position \d+/);
    await writeCreds("");
    expect((await check()).reason).toContain("unexpected end of JSON input");
    expectNoSecret(result);
  });

  it("an unreadable file (no permission) → unreadable", async () => {
    if (process.getuid?.() === 0) {
      // root reads a 0000 file anyway; a directory in its place is unreadable for everyone.
      await mkdir(credentials, { recursive: true });
    } else {
      await writeCreds(oauth({ scopes: ["user:inference"] }));
      await chmod(credentials, 0o000);
    }
    expect(await check()).toMatchObject({ ok: false, state: "unreadable" });
  });

  it("no claudeAiOauth.accessToken → no-token", async () => {
    for (const value of [{}, { claudeAiOauth: {} }, { claudeAiOauth: { accessToken: "" } }, [], "x", null]) {
      await writeCreds(JSON.stringify(value));
      expect(await check(), JSON.stringify(value)).toMatchObject({
        ok: false,
        state: "no-token",
        method: "oauth-file",
      });
    }
  });

  it("scopes without user:inference → no-scope", async () => {
    await writeCreds(oauth({ scopes: ["user:profile"], expiresAt: NOW + 86_400_000 }));
    const result = await check();
    expect(result).toMatchObject({ ok: false, state: "no-scope" });
    expect(result.reason).toContain("user:inference");
    expectNoSecret(result);
  });

  it("scopes absent → ok with a warning", async () => {
    await writeCreds(oauth({ expiresAt: NOW + 86_400_000 }));
    const result = await check();
    expect(result).toMatchObject({ ok: true, state: "ok", method: "oauth-file" });
    expect(result.warnings.join(" ")).toContain("user:inference");
  });

  it("valid scoped token far from expiry → ok, no warnings, expiresAt reported", async () => {
    const expiresAt = NOW + 86_400_000;
    await writeCreds(oauth({ scopes: ["user:inference", "user:profile"], expiresAt, refreshToken: REFRESH }));
    const result = await check();
    expect(result).toEqual({
      ok: true,
      state: "ok",
      method: "oauth-file",
      expiresAt,
      warnings: [],
      reason: expect.stringContaining(new Date(expiresAt).toISOString()),
    });
    expectNoSecret(result);
  });

  it("expired without a refresh token → expired, reason names the ISO time", async () => {
    const expiresAt = NOW - 1000;
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt }));
    const result = await check();
    expect(result).toMatchObject({ ok: false, state: "expired", expiresAt });
    expect(result.reason).toContain("2029-12-31T23:59:59.000Z");
  });

  it("expired with a refresh token → refreshable, ok, with a warning", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: NOW - 1000, refreshToken: REFRESH }));
    const result = await check();
    expect(result).toMatchObject({ ok: true, state: "refreshable" });
    expect(result.warnings.join(" ")).toMatch(/refresh/);
    expectNoSecret(result);
  });

  it("an empty refresh token does not make it refreshable", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: NOW - 1000, refreshToken: " " }));
    expect(await check()).toMatchObject({ ok: false, state: "expired" });
  });

  it("within the skew counts as expired (default 60 s)", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: NOW + 59_000 }));
    expect((await check()).state).toBe("expired");
    expect((await check({ skewSeconds: 30 })).state).toBe("expiring");
  });

  it("within expiringWithinSeconds (default 1 h) → expiring, still ok", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: NOW + 30 * 60_000 }));
    expect(await check()).toMatchObject({ ok: true, state: "expiring" });
    expect(await check({ expiringWithinSeconds: 600 })).toMatchObject({ ok: true, state: "ok" });
  });

  it("uses the clock for now", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: NOW + 2 * 3_600_000 }));
    expect((await check()).state).toBe("ok");
    expect((await check({ clock: { now: () => NOW + 3 * 3_600_000 } })).state).toBe("expired");
  });

  it("no or unparsable expiresAt → ok (no false alarm)", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"] }));
    expect(await check()).toMatchObject({ ok: true, state: "ok" });
    await writeCreds(oauth({ scopes: ["user:inference"], expiresAt: "soon" }));
    const result = await check();
    expect(result).toMatchObject({ ok: true, state: "ok" });
    expect(result.expiresAt).toBeUndefined();
  });

  it("CLAUDE_CONFIG_DIR wins over home/.claude", async () => {
    const other = path.join(home, "other");
    await mkdir(other);
    await writeFile(path.join(other, ".credentials.json"), JSON.stringify(oauth({ scopes: ["user:inference"] })));
    expect((await check()).state).toBe("missing");
    expect(await check({ env: { CLAUDE_CONFIG_DIR: other } })).toMatchObject({ ok: true, state: "ok" });
  });

  it("defaults home to env.HOME", async () => {
    await writeCreds(oauth({ scopes: ["user:inference"] }));
    expect(await checkAgentAuth({ agent: "claude-code", env: { HOME: home }, clock })).toMatchObject({ ok: true });
  });
});

describe("describeJsonError", () => {
  it("never quotes the input", () => {
    for (const text of [
      `{"a": ${SECRET}}`,
      `${SECRET}`,
      `{"a": "${SECRET}"} x`,
      `{"a":"\u0001${SECRET}"}`,
      `{${SECRET}`,
    ]) {
      let error: unknown;
      try {
        JSON.parse(text);
      } catch (e) {
        error = e;
      }
      const described = describeJsonError(error);
      expect(described).not.toContain("SECRET");
      expect(described).not.toContain("sk-");
    }
  });
});

const jwt = (claims: Record<string, unknown>) =>
  ["e30", Buffer.from(JSON.stringify(claims)).toString("base64url"), "c2ln"].join(".");

describe("codex (Codex CLI 0.169.0: CODEX_API_KEY, then $CODEX_HOME/auth.json)", () => {
  const KEY = "sk-test-SECRETKEY-123";
  const ACCESS = jwt({ exp: Math.floor((NOW + 10 * 86_400_000) / 1000), sub: "SECRETSUB" });
  const chatgpt = (access: string, refresh: string | undefined = REFRESH) => ({
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: { id_token: jwt({ email: "a@b" }), access_token: access, refresh_token: refresh, account_id: "acct" },
    last_refresh: "2029-12-30T00:00:00Z",
  });
  let codexHome: string;
  const codex = (env: Record<string, string> = {}, extra: Partial<Parameters<typeof checkAgentAuth>[0]> = {}) =>
    checkAgentAuth({ agent: "codex", home, env: { CODEX_HOME: codexHome, ...env }, clock, ...extra });
  const writeAuth = async (value: unknown, dir = codexHome) => {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "auth.json"), typeof value === "string" ? value : JSON.stringify(value));
  };
  beforeEach(() => {
    codexHome = path.join(home, "codex-home");
  });

  it.each([
    ["CODEX_API_KEY in env", { CODEX_API_KEY: KEY }, undefined, { ok: true, state: "ok", method: "api-key-env" }],
    [
      "auth.json written by `codex login --with-api-key`",
      {},
      { auth_mode: "apikey", OPENAI_API_KEY: KEY },
      { ok: true, state: "ok", method: "api-key-file" },
    ],
    ["auth.json with a key and no auth_mode", {}, { OPENAI_API_KEY: KEY }, { ok: true, method: "api-key-file" }],
    ["ChatGPT login, token valid", {}, chatgpt(ACCESS), { ok: true, state: "ok", method: "oauth-file" }],
    [
      "ChatGPT login, token expired, refresh token",
      {},
      chatgpt(jwt({ exp: (NOW - 3_600_000) / 1000 })),
      { ok: true, state: "refreshable", expiresAt: NOW - 3_600_000 },
    ],
    [
      "ChatGPT login, token expired, no refresh token",
      {},
      chatgpt(jwt({ exp: (NOW - 3_600_000) / 1000 }), ""),
      { ok: false, state: "expired" },
    ],
    [
      "ChatGPT login, token expiring within the hour",
      {},
      chatgpt(jwt({ exp: (NOW + 600_000) / 1000 })),
      { ok: true, state: "expiring" },
    ],
    ["logged out: no auth.json", {}, undefined, { ok: false, state: "missing" }],
    [
      "logged out: OPENAI_API_KEY only (Codex ignores it)",
      { OPENAI_API_KEY: KEY },
      undefined,
      { ok: false, state: "missing" },
    ],
    ["logged out: null key and tokens", {}, { OPENAI_API_KEY: null, tokens: null }, { ok: false, state: "no-token" }],
    [
      "malformed auth.json (truncated)",
      {},
      `{"auth_mode":"apikey","OPENAI_API_KEY":"${KEY}`,
      { ok: false, state: "unreadable" },
    ],
  ] as const)("%s", async (_name, env, file, expected) => {
    if (file !== undefined) await writeAuth(file);
    const result = await codex(env);
    expect(result).toMatchObject(expected);
    const text = JSON.stringify(result);
    for (const secret of [KEY, REFRESH, "SECRETSUB", "SECRETKEY"]) expect(text).not.toContain(secret);
    if (!result.ok) expect(result.reason).toMatch(/CODEX_API_KEY.*`codex login`/);
  });

  it("an access token without exp is ok with a warning (cannot be checked offline)", async () => {
    await writeAuth(chatgpt(jwt({ sub: "x" })));
    const result = await codex();
    expect(result).toMatchObject({ ok: true, state: "ok" });
    expect(result.expiresAt).toBeUndefined();
    expect(result.warnings.join(" ")).toMatch(/no expiry/);
    await writeAuth(chatgpt("not-a-jwt"));
    expect(await codex()).toMatchObject({ ok: true, state: "ok" });
  });

  it("OPENAI_API_KEY is named as ignored when nothing else is found", async () => {
    const result = await codex({ OPENAI_API_KEY: KEY });
    expect(result.reason).toContain("OPENAI_API_KEY is set, but Codex does not use it");
  });

  it("CODEX_HOME, else <stateDir>/agents/codex, else ~/.codex", async () => {
    const stateDir = path.join(home, "state");
    await writeAuth({ OPENAI_API_KEY: KEY }, path.join(stateDir, "agents", "codex"));
    const plain = (extra: Partial<Parameters<typeof checkAgentAuth>[0]> = {}) =>
      checkAgentAuth({ agent: "codex", home, env: {}, clock, ...extra });
    expect(await plain()).toMatchObject({ ok: false, state: "missing" });
    expect(await plain({ stateDir })).toMatchObject({ ok: true });
    expect(await plain({ env: { MOLECULE_STATE_DIR: stateDir } })).toMatchObject({ ok: true });
    // CODEX_HOME wins over the state dir.
    expect(await codex({}, { stateDir })).toMatchObject({ ok: false, state: "missing" });
    await writeAuth({ OPENAI_API_KEY: KEY }, path.join(home, ".codex"));
    expect(await plain()).toMatchObject({ ok: true });
  });

  it("a custom provider's env_key makes that variable the credential (option, default off)", async () => {
    const probe = createCodexAuthProbe({ providerEnvKey: "OPENAI_API_KEY" });
    const withProbe = (env: Record<string, string>) =>
      checkAgentAuth({ agent: "codex", probe, home, env: { CODEX_HOME: codexHome, ...env } });
    expect(await withProbe({ OPENAI_API_KEY: KEY })).toMatchObject({ ok: true, method: "api-key-env" });
    await writeAuth({ OPENAI_API_KEY: KEY });
    // The provider fails at once without its variable, whatever auth.json holds.
    expect(await withProbe({})).toMatchObject({ ok: false, state: "missing" });
    expect(
      await checkAgentAuth({ agent: "codex", probe: createCodexAuthProbe(), home, env: { CODEX_HOME: codexHome } }),
    ).toMatchObject({ ok: true });
    expect(probe.credentialFiles?.({ home, env: { CODEX_HOME: codexHome } })).toEqual([
      path.join(codexHome, "auth.json"),
    ]);
  });

  it("with a baseUrl only CODEX_API_KEY counts (the runtime's provider reads it; auth.json does not)", async () => {
    const BASE_URL = "http://127.0.0.1:9/v1";
    await writeAuth(chatgpt(ACCESS));
    expect(await codex()).toMatchObject({ ok: true, method: "oauth-file" });
    const loggedIn = await codex({ OPENAI_API_KEY: KEY }, { baseUrl: BASE_URL });
    expect(loggedIn).toMatchObject({ ok: false, state: "missing", fix: expect.stringContaining("Set CODEX_API_KEY") });
    expect(loggedIn.reason).toContain("runtime_config.base_url");
    expect(loggedIn.reason).toContain("Missing environment variable");
    // checkAgentAuth appends the probe's own fix, not the descriptor's `codex login` hint.
    expect(loggedIn.reason).not.toContain("CODEX_HOME set to");
    await writeAuth({ auth_mode: "apikey", OPENAI_API_KEY: KEY });
    expect(await codex({}, { baseUrl: BASE_URL })).toMatchObject({ ok: false, state: "missing" });
    expect(await codex({ CODEX_API_KEY: KEY }, { baseUrl: BASE_URL })).toMatchObject({
      ok: true,
      method: "api-key-env",
    });
    // An explicit providerEnvKey wins over the baseUrl default; an empty baseUrl is no baseUrl.
    const probe = createCodexAuthProbe({ providerEnvKey: "OPENAI_API_KEY" });
    expect(
      await checkAgentAuth({ agent: "codex", probe, home, env: { OPENAI_API_KEY: KEY }, baseUrl: BASE_URL }),
    ).toMatchObject({ ok: true });
    expect(await codex({}, { baseUrl: " " })).toMatchObject({ ok: true, method: "api-key-file" });
  });
});

describe("gemini-cli (Gemini CLI 0.61.0: settings.json's auth type, then its credential)", () => {
  const KEY = "AIza-SECRETKEY";
  let geminiHome: string;
  let dir: string;
  const gemini = (env: Record<string, string> = {}, extra: Partial<Parameters<typeof checkAgentAuth>[0]> = {}) =>
    checkAgentAuth({ agent: "gemini-cli", home, env: { GEMINI_CLI_HOME: geminiHome, ...env }, clock, ...extra });
  const put = async (name: string, value: unknown, where = dir) => {
    await mkdir(where, { recursive: true });
    await writeFile(path.join(where, name), typeof value === "string" ? value : JSON.stringify(value, null, 2));
  };
  const selected = (selectedType: string, more: Record<string, unknown> = {}) => ({
    security: { auth: { selectedType, ...more } },
  });
  const creds = (expiry: number, refresh: string | undefined = REFRESH) => ({
    access_token: "ya29.SECRETACCESS",
    refresh_token: refresh,
    scope: "https://www.googleapis.com/auth/cloud-platform",
    token_type: "Bearer",
    id_token: "eyJ.SECRETID",
    expiry_date: expiry,
  });
  beforeEach(() => {
    geminiHome = path.join(home, "gemini-home");
    dir = path.join(geminiHome, ".gemini");
  });

  type Row = readonly [string, Record<string, string>, Record<string, unknown>, object];
  it.each<Row>([
    ["GEMINI_API_KEY only", { GEMINI_API_KEY: KEY }, {}, { ok: true, state: "ok", method: "api-key-env" }],
    [
      "selectedType gemini-api-key + key + base URL",
      { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: "http://127.0.0.1:9" },
      { "settings.json": selected("gemini-api-key") },
      { ok: true, method: "api-key-env" },
    ],
    [
      "key + base URL, no settings (gateway, exit 41)",
      { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: "http://127.0.0.1:9" },
      {},
      { ok: false, state: "missing" },
    ],
    [
      "gateway with useExternal",
      { GOOGLE_GEMINI_BASE_URL: "http://127.0.0.1:9" },
      { "settings.json": { security: { auth: { useExternal: true } } } },
      { ok: true, method: "adc" },
    ],
    [
      "selectedType gemini-api-key, no key",
      {},
      { "settings.json": selected("gemini-api-key") },
      { ok: false, state: "missing" },
    ],
    [
      "oauth-personal, token valid",
      {},
      { "settings.json": selected("oauth-personal"), "oauth_creds.json": creds(NOW + 86_400_000) },
      { ok: true, state: "ok", method: "oauth-file", expiresAt: NOW + 86_400_000 },
    ],
    [
      "oauth-personal, token expired, refresh token",
      {},
      { "settings.json": selected("oauth-personal"), "oauth_creds.json": creds(NOW - 1000) },
      { ok: true, state: "refreshable" },
    ],
    [
      "oauth-personal, token expired, no refresh token",
      {},
      { "settings.json": selected("oauth-personal"), "oauth_creds.json": creds(NOW - 1000, "") },
      { ok: false, state: "expired" },
    ],
    [
      "oauth-personal, logged out",
      {},
      { "settings.json": selected("oauth-personal") },
      { ok: false, state: "missing" },
    ],
    [
      "oauth-personal, malformed oauth_creds.json",
      {},
      { "settings.json": selected("oauth-personal"), "oauth_creds.json": '{"access_token":"ya29.SECRETACCESS' },
      { ok: false, state: "unreadable" },
    ],
    [
      "GOOGLE_GENAI_USE_GCA=true + oauth_creds.json",
      { GOOGLE_GENAI_USE_GCA: "true" },
      { "oauth_creds.json": creds(NOW + 86_400_000) },
      { ok: true, method: "oauth-file" },
    ],
    [
      "vertex: project + location",
      { GOOGLE_GENAI_USE_VERTEXAI: "true", GOOGLE_CLOUD_PROJECT: "p", GOOGLE_CLOUD_LOCATION: "us-central1" },
      {},
      { ok: true, method: "vertex-env" },
    ],
    [
      "vertex: GOOGLE_API_KEY",
      { GOOGLE_API_KEY: KEY },
      { "settings.json": selected("vertex-ai") },
      { ok: true, method: "vertex-env" },
    ],
    ["vertex: no project (exit 41)", { GOOGLE_GENAI_USE_VERTEXAI: "true" }, {}, { ok: false, state: "missing" }],
    ["GOOGLE_API_KEY alone selects nothing", { GOOGLE_API_KEY: KEY }, {}, { ok: false, state: "missing" }],
    ["nothing at all (exit 41)", {}, {}, { ok: false, state: "missing" }],
    [
      "malformed settings.json",
      { GEMINI_API_KEY: KEY },
      { "settings.json": "{ security: " },
      { ok: false, state: "unreadable" },
    ],
    [
      "settings.json with comments",
      {},
      { "settings.json": '// mine\n{ "security": { /* auth */ "auth": { "selectedType": "vertex-ai" } } }' },
      { ok: false, state: "missing" },
    ],
    ["compute ADC", {}, { "settings.json": selected("compute-default-credentials") }, { ok: true, method: "adc" }],
    [
      "an unknown auth type",
      { GEMINI_API_KEY: KEY },
      { "settings.json": selected("magic") },
      { ok: false, state: "missing" },
    ],
  ])("%s", async (_name, env, files, expected) => {
    for (const [name, value] of Object.entries(files)) await put(name, value);
    const result = await gemini(env);
    expect(result).toMatchObject(expected);
    const text = JSON.stringify(result);
    for (const secret of [KEY, "SECRETACCESS", "SECRETID", REFRESH]) expect(text).not.toContain(secret);
    if (!result.ok) expect(result.reason).toContain("GEMINI_API_KEY");
  });

  it("the pre-v2 top-level selectedAuthType still counts", async () => {
    await put("settings.json", { selectedAuthType: "gemini-api-key" });
    expect(await gemini({ GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: "http://127.0.0.1:9" })).toMatchObject({
      ok: true,
      method: "api-key-env",
    });
  });

  it("the comment-stripped settings pick the type (vertex-ai needs its variables)", async () => {
    await put("settings.json", '{ "security": { "auth": { "selectedType": "vertex-ai" } } } // x');
    expect((await gemini()).reason).toContain("vertex-ai");
  });

  it(".env files: cwd upwards, then the home; .gemini/.env only for a trusted workspace", async () => {
    const work = path.join(home, "work", "repo");
    await mkdir(work, { recursive: true });
    await put(".env", `GEMINI_API_KEY="${KEY}"\n`, path.join(geminiHome, ".gemini"));
    expect(await gemini()).toMatchObject({ ok: false, state: "missing" });
    const trusted = await gemini({ GEMINI_CLI_TRUST_WORKSPACE: "true" });
    expect(trusted).toMatchObject({ ok: true, method: "api-key-env" });
    expect(trusted.reason).toContain(path.join(geminiHome, ".gemini", ".env"));
    await put(".env", `export GEMINI_API_KEY=${KEY} # mine\n`, geminiHome);
    expect((await gemini()).reason).toContain(path.join(geminiHome, ".env"));
    // A .env above the cwd comes first, and it can select nothing (the first file found is the one loaded).
    await put(".env", "OTHER=1\n", path.join(home, "work"));
    expect(await gemini({}, { cwd: work })).toMatchObject({ ok: false, state: "missing" });
    // The environment beats a .env file.
    expect((await gemini({ GEMINI_API_KEY: "k" }, { cwd: work })).reason).toContain("in the environment");
  });

  it("with a baseUrl the runtime forces gemini-api-key: only GEMINI_API_KEY (env or .env) counts", async () => {
    const baseUrl = "http://127.0.0.1:9";
    await put("settings.json", selected("oauth-personal"));
    await put("oauth_creds.json", creds(NOW + 86_400_000));
    expect(await gemini()).toMatchObject({ ok: true, method: "oauth-file" });
    const login = await gemini({}, { baseUrl });
    expect(login).toMatchObject({ ok: false, state: "missing", fix: expect.stringContaining("Set GEMINI_API_KEY") });
    expect(login.reason).toContain('the "oauth-personal" login does not count');
    expect(await gemini({ GEMINI_API_KEY: KEY }, { baseUrl })).toMatchObject({ ok: true, method: "api-key-env" });
    await put("settings.json", {});
    const vertex = { GOOGLE_GENAI_USE_VERTEXAI: "true", GOOGLE_CLOUD_PROJECT: "p", GOOGLE_CLOUD_LOCATION: "l" };
    expect(await gemini(vertex)).toMatchObject({ ok: true, method: "vertex-env" });
    expect(await gemini(vertex, { baseUrl })).toMatchObject({ ok: false, state: "missing" });
    // GOOGLE_GEMINI_BASE_URL + key without settings is the rejected gateway type, but not with a baseUrl.
    const gateway = { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: baseUrl };
    expect(await gemini(gateway)).toMatchObject({ ok: false });
    expect(await gemini(gateway, { baseUrl })).toMatchObject({ ok: true });
    await put(".env", `GEMINI_API_KEY=${KEY}\n`, geminiHome);
    const fromFile = await gemini({}, { baseUrl });
    expect(fromFile).toMatchObject({ ok: true, method: "api-key-env" });
    expect(fromFile.reason).toContain(path.join(geminiHome, ".env"));
    expect(JSON.stringify(fromFile)).not.toContain(KEY);
  });

  it("a key or login stored encrypted (gemini-credentials.json) is ok with a warning: it cannot be read token-free", async () => {
    await put("gemini-credentials.json", "v1:3f9a0c:SECRETACCESS");
    await put("settings.json", selected("gemini-api-key"));
    const key = await gemini();
    expect(key).toMatchObject({ ok: true, method: "api-key-file" });
    expect(key.warnings.join(" ")).toContain("encrypted");
    // With a baseUrl the type is gemini-api-key too, and the stored key is what the CLI would use.
    expect(await gemini({}, { baseUrl: "http://127.0.0.1:9" })).toMatchObject({ ok: true, method: "api-key-file" });
    await put("settings.json", selected("oauth-personal"));
    // The OAuth token is stored encrypted only with GEMINI_FORCE_ENCRYPTED_FILE_STORAGE=true.
    expect(await gemini()).toMatchObject({ ok: false, state: "missing" });
    const forced = await gemini({ GEMINI_FORCE_ENCRYPTED_FILE_STORAGE: "true" });
    expect(forced).toMatchObject({ ok: true, method: "oauth-file" });
    expect(forced.warnings.join(" ")).toContain("encrypted");
    expect(JSON.stringify([key, forced])).not.toContain("SECRETACCESS");
  });

  it("GEMINI_CLI_HOME, else <stateDir>/agents/gemini-cli, else the home", async () => {
    const stateDir = path.join(home, "state");
    await put("settings.json", selected("vertex-ai"), path.join(stateDir, "agents", "gemini-cli", ".gemini"));
    const env = { GOOGLE_API_KEY: KEY };
    const plain = (extra: Partial<Parameters<typeof checkAgentAuth>[0]> = {}) =>
      checkAgentAuth({ agent: "gemini-cli", home, env, clock, ...extra });
    expect(await plain()).toMatchObject({ ok: false });
    expect(await plain({ stateDir })).toMatchObject({ ok: true, method: "vertex-env" });
    await put("settings.json", selected("vertex-ai"), path.join(home, ".gemini"));
    expect(await plain()).toMatchObject({ ok: true });
    expect(getAgent("gemini-cli")?.authProbe.credentialFiles?.({ home, env: {}, stateDir })).toEqual(
      ["settings.json", "oauth_creds.json", "gemini-credentials.json"].map((f) =>
        path.join(stateDir, "agents", "gemini-cli", ".gemini", f),
      ),
    );
  });
});

describe("agentHomeDir", () => {
  it("the CLI's variable, else <stateDir>/agents/<id>, else the CLI's default; undefined for other agents", () => {
    const stateDir = path.join(home, "state");
    expect(agentHomeDir("codex", { home, env: { CODEX_HOME: "rel/x" }, stateDir })).toBe(path.resolve("rel/x"));
    expect(agentHomeDir("codex", { home, env: {}, stateDir })).toBe(path.join(stateDir, "agents", "codex"));
    expect(agentHomeDir("codex", { home, env: {} })).toBe(path.join(home, ".codex"));
    expect(agentHomeDir("gemini-cli", { home, env: { GEMINI_CLI_HOME: "/g" }, stateDir })).toBe("/g");
    expect(agentHomeDir("gemini-cli", { home, env: {}, stateDir })).toBe(path.join(stateDir, "agents", "gemini-cli"));
    expect(agentHomeDir("gemini-cli", { home, env: {} })).toBe(home);
    expect(agentHomeDir("claude-code", { home, env: {}, stateDir })).toBeUndefined();
  });
});

describe("other agents", () => {
  it("each descriptor names the CLI version its facts were measured with", () => {
    expect(["claude-code", "codex", "gemini-cli"].map((id) => getAgent(id)?.testedVersion)).toEqual([
      "2.1.197",
      "0.169.0",
      "0.61.0",
    ]);
  });

  it("an unknown agent without a probe rejects with E_AUTH_UNKNOWN_AGENT", async () => {
    const error = await checkAgentAuth({ agent: "my-agent", home, env: {} }).catch((e: unknown) => e);
    expect(AuthError.isInstance(error)).toBe(true);
    expect((error as AuthError).code).toBe("E_AUTH_UNKNOWN_AGENT");
  });

  it("a custom probe gets the resolved context", async () => {
    const probe: AgentAuthProbe = {
      async check(ctx) {
        return { ok: ctx.env.MY_KEY === "k", state: "ok", reason: `home ${ctx.home} at ${ctx.now}`, warnings: [] };
      },
    };
    const result = await checkAgentAuth({ agent: "my-agent", probe, home, env: { MY_KEY: "k" }, clock });
    expect(result).toEqual({ ok: true, state: "ok", reason: `home ${home} at ${NOW}`, warnings: [] });
  });

  it("rejects negative seconds with E_AUTH_BAD_OPTIONS", async () => {
    const error = await check({ skewSeconds: -1 }).catch((e: unknown) => e);
    expect((error as AuthError).code).toBe("E_AUTH_BAD_OPTIONS");
  });
});

describe("token-free and network-free by construction", () => {
  it.each([
    "agent-auth.ts",
    "agent-probes.ts",
    "agents.ts",
    "agent-homes.ts",
    "agent-home-dir.ts",
    "codex-probe.ts",
    "gemini-probe.ts",
    "gemini-env.ts",
    "probe-util.ts",
  ])("%s imports no process, network or HTTP API", async (file) => {
    const { readFile } = await import("node:fs/promises");
    const source = await readFile(new URL(`./${file}`, import.meta.url), "utf8");
    const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const forbidden of ["child_process", "http", "https", "net", "tls", "dgram", "undici"]) {
      expect(imports.some((i) => i === forbidden || i === `node:${forbidden}`)).toBe(false);
    }
    expect(source).not.toMatch(/\bfetch\s*\(/);
  });
});

describe("ollama (an OpenAI-compatible endpoint: no credentials required)", () => {
  it("is ok with no key; with OPENAI_API_KEY it is ok by api-key-env (sent as Bearer), never echoing the key", async () => {
    const none = await checkAgentAuth({ agent: "ollama", home, env: {}, clock });
    expect([none.ok, none.state, none.method]).toEqual([true, "ok", undefined]);
    expect(none.reason).toContain("no credentials needed");
    const keyed = await checkAgentAuth({ agent: "ollama", home, env: { OPENAI_API_KEY: "sk-gateway-SECRET" }, clock });
    expect([keyed.ok, keyed.state, keyed.method]).toEqual([true, "ok", "api-key-env"]);
    expect(keyed.reason).toContain("Authorization: Bearer");
    expect(JSON.stringify(keyed)).not.toContain("SECRET");
    expect(getAgent("ollama")?.authProbe.credentialFiles).toBeUndefined();
  });
});
