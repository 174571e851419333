import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { WorkspaceConfigInput } from "@molecule/config";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentAuthCheck } from "./agent-checks.js";
import { createPreflightGate } from "./gate.js";
import { baseEnv, config, removeDir, runOne, tempDir } from "./testing.js";
import type { PreflightReport } from "./types.js";

// The agent-auth check end to end (runPreflight → checkAgentAuth → the registry's probe) for each
// agent, with credential files shaped as the real CLIs write them (Codex CLI 0.169.0, Gemini CLI
// 0.61.0, Claude Code 2.1.197): logged in, logged out, expired, malformed. The runtime's state dir
// is set, so each agent's home is `<stateDir>/agents/<id>` unless its own variable names one.

const NOW = Date.parse("2030-01-01T00:00:00Z");
const MIN = 60_000;
const HOUR = 60 * MIN;
const SECRETS = ["sk-proj-SECRETKEY", "SECRETACCESS", "SECRETREFRESH", "AIzaSECRETKEY", "ya29.SECRET", "SECRETID"];

let root: string;
let home: string;
let stateDir: string;
let work: string;
beforeEach(async () => {
  root = await tempDir("molecule-auth-tables-");
  home = join(root, "home");
  stateDir = join(root, "state");
  work = join(root, "workspace", "repo");
  await mkdir(home, { recursive: true });
  await mkdir(work, { recursive: true });
});
afterEach(async () => {
  await removeDir(root);
});

/** Writes a file as the CLIs do (mode 0600, parents created). */
async function put(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content, { mode: 0o600 });
}

/** A JWT as the ChatGPT login stores it (unsigned here: the probe decodes `exp` offline only). */
const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"RS256","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2lnbmF0dXJl`;

function run(
  runtime: string,
  env: Record<string, string> = {},
  runtimeConfig: WorkspaceConfigInput["runtime_config"] = {},
) {
  return runOne(agentAuthCheck, {
    env: baseEnv(home, { MOLECULE_STATE_DIR: stateDir, ...env }),
    config: config({ runtime, runtime_config: runtimeConfig }),
    clock: createFakeClock(NOW),
    workspaceDir: work,
  });
}

interface Expected {
  status: "pass" | "warn" | "fail";
  /** The check's detail (state and method) when it passes or warns. */
  detail?: string;
  code?: string;
  /** Text the issue's detail contains. */
  says?: string;
  /** Text the failure's fix contains (each). */
  fix?: readonly string[];
}

function expectOutcome(report: PreflightReport, expected: Expected) {
  const check = report.checks[1];
  expect(check?.name).toBe("agent-auth");
  expect(check?.status).toBe(expected.status);
  expect(report.ok).toBe(expected.status !== "fail");
  if (expected.detail) expect(check?.detail).toBe(expected.detail);
  const issues = [...report.failures, ...report.warnings];
  if (expected.code) expect(issues.map((i) => i.code)).toContain(expected.code);
  else expect(issues).toEqual([]);
  const issue = issues.find((i) => i.code === expected.code);
  if (expected.says) expect(issue?.detail).toContain(expected.says);
  for (const text of expected.fix ?? []) expect(report.failures[0]?.fix).toContain(text);
  const text = JSON.stringify(report);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe("codex: agent-auth end to end (CODEX_API_KEY, then <codex home>/auth.json)", () => {
  const codexHome = () => join(stateDir, "agents", "codex");
  const authJson = () => join(codexHome(), "auth.json");
  // `printf 'sk-…\n' | codex login --with-api-key` writes this (pretty-printed, mode 0600).
  const apiKeyLogin = JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-proj-SECRETKEY" }, null, 2);
  // `codex login` (ChatGPT) writes this; the access token is a JWT whose `exp` is decoded offline.
  const chatgptLogin = (expiresAt: number, refresh = "SECRETREFRESH") =>
    JSON.stringify(
      {
        auth_mode: "chatgpt",
        OPENAI_API_KEY: null,
        tokens: {
          id_token: jwt({ email: "dev@example.com", exp: expiresAt / 1000 + HOUR / 1000 }),
          access_token: jwt({ exp: expiresAt / 1000, sub: "SECRETACCESS" }),
          refresh_token: refresh,
          account_id: "acct-1",
        },
        last_refresh: "2029-12-28T09:30:00.000000Z",
      },
      null,
      2,
    );
  const LOGIN = ["CODEX_API_KEY", "`codex login`"];

  type Row = readonly [string, Record<string, string>, string | undefined, Expected];
  it.each<Row>([
    [
      "logged in: CODEX_API_KEY",
      { CODEX_API_KEY: "sk-proj-SECRETKEY" },
      undefined,
      { status: "pass", detail: "ok (api-key-env)" },
    ],
    ["logged in: codex login --with-api-key", {}, apiKeyLogin, { status: "pass", detail: "ok (api-key-file)" }],
    ["logged in: ChatGPT login", {}, chatgptLogin(NOW + 9 * 24 * HOUR), { status: "pass", detail: "ok (oauth-file)" }],
    [
      "expiring: ChatGPT token valid for 30 more minutes",
      {},
      chatgptLogin(NOW + 30 * MIN),
      { status: "warn", detail: "expiring (oauth-file)", code: "W_AGENT_AUTH_EXPIRING", says: "expires in 30 min" },
    ],
    [
      "expired, refreshable: ChatGPT token expired with a refresh token",
      {},
      chatgptLogin(NOW - 2 * HOUR),
      { status: "warn", code: "W_AGENT_AUTH_REFRESHABLE", says: "expired 2 h ago" },
    ],
    [
      "expired: ChatGPT token expired, no refresh token",
      {},
      chatgptLogin(NOW - 2 * HOUR, ""),
      { status: "fail", code: "E_AGENT_AUTH_EXPIRED", says: "2029-12-31T22:00:00.000Z", fix: LOGIN },
    ],
    ["logged out: no auth.json", {}, undefined, { status: "fail", code: "E_AGENT_AUTH_MISSING", fix: LOGIN }],
    [
      "logged out: only OPENAI_API_KEY (Codex ignores it)",
      { OPENAI_API_KEY: "sk-proj-SECRETKEY" },
      undefined,
      { status: "fail", code: "E_AGENT_AUTH_MISSING", says: "Codex does not use it", fix: LOGIN },
    ],
    [
      "logged out: auth.json with null key and tokens",
      {},
      '{\n  "OPENAI_API_KEY": null,\n  "tokens": null\n}',
      { status: "fail", code: "E_AGENT_AUTH_NO_TOKEN", fix: LOGIN },
    ],
    [
      "malformed: truncated auth.json (Codex ignores it silently)",
      {},
      '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-SECRETKEY',
      { status: "fail", code: "E_AGENT_AUTH_UNREADABLE", says: "not valid JSON", fix: LOGIN },
    ],
    ["malformed: auth.json is a JSON array", {}, "[]", { status: "fail", code: "E_AGENT_AUTH_NO_TOKEN", fix: LOGIN }],
  ])("%s", async (_name, env, file, expected) => {
    if (file !== undefined) await put(authJson(), file);
    expectOutcome(await run("codex", env), expected);
  });

  it("reads <stateDir>/agents/codex, not ~/.codex, when the runtime has a state dir", async () => {
    await put(join(home, ".codex", "auth.json"), apiKeyLogin);
    const r = await run("codex");
    expectOutcome(r, { status: "fail", code: "E_AGENT_AUTH_MISSING", fix: LOGIN });
    expect(r.failures[0]?.detail).toContain(authJson());
    await put(authJson(), apiKeyLogin);
    expectOutcome(await run("codex"), { status: "pass", detail: "ok (api-key-file)" });
  });

  it("without MOLECULE_STATE_DIR the home is under the settings' default state dir (<config>/.molecule)", async () => {
    const configDir = join(root, "config");
    const r = await runOne(agentAuthCheck, {
      env: baseEnv(home, { WORKSPACE_CONFIG_PATH: configDir }),
      config: config({ runtime: "codex" }),
      clock: createFakeClock(NOW),
    });
    expect(r.failures[0]?.detail).toContain(join(configDir, ".molecule", "agents", "codex", "auth.json"));
  });

  it("CODEX_HOME in the environment wins over the state dir", async () => {
    await put(authJson(), apiKeyLogin);
    const own = join(root, "my-codex");
    expectOutcome(await run("codex", { CODEX_HOME: own }), { status: "fail", code: "E_AGENT_AUTH_MISSING" });
    await put(join(own, "auth.json"), chatgptLogin(NOW + 24 * HOUR));
    expectOutcome(await run("codex", { CODEX_HOME: own }), { status: "pass", detail: "ok (oauth-file)" });
  });

  it("with runtime_config.base_url only CODEX_API_KEY counts, and the fix says so", async () => {
    await put(authJson(), chatgptLogin(NOW + 24 * HOUR));
    const baseUrl = { base_url: "http://127.0.0.1:9/v1" };
    const r = await run("codex", { OPENAI_API_KEY: "sk-proj-SECRETKEY" }, baseUrl);
    expectOutcome(r, {
      status: "fail",
      code: "E_AGENT_AUTH_MISSING",
      says: "runtime_config.base_url",
      fix: ["CODEX_API_KEY"],
    });
    expect(r.failures[0]?.fix).not.toContain("codex login");
    expectOutcome(await run("codex", { CODEX_API_KEY: "sk-proj-SECRETKEY" }, baseUrl), {
      status: "pass",
      detail: "ok (api-key-env)",
    });
  });
});

describe("gemini-cli: agent-auth end to end (the auth type, then its credential)", () => {
  const geminiDir = () => join(stateDir, "agents", "gemini-cli", ".gemini");
  const settings = () => join(geminiDir(), "settings.json");
  const oauthCreds = () => join(geminiDir(), "oauth_creds.json");
  // What a user may keep in settings.json (Gemini CLI allows comments).
  const selected = (type: string) => `{
  // this home's login
  "security": {
    "auth": {
      "selectedType": "${type}" /* chosen with /auth */
    }
  },
  "general": { "maxAttempts": 3 }
}
`;
  // An interactive Google login writes this (JSON.stringify(…, null, 2), mode 0600).
  const creds = (expiry: number, refresh = "SECRETREFRESH") =>
    JSON.stringify(
      {
        access_token: "ya29.SECRETACCESS",
        refresh_token: refresh,
        scope: "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid",
        token_type: "Bearer",
        id_token: "eyJhbGciOiJSUzI1NiJ9.SECRETID.sig",
        expiry_date: expiry,
      },
      null,
      2,
    );
  const LOGIN = ["GEMINI_API_KEY", "`gemini`", "Vertex"];
  const VERTEX = {
    GOOGLE_GENAI_USE_VERTEXAI: "true",
    GOOGLE_CLOUD_PROJECT: "my-project",
    GOOGLE_CLOUD_LOCATION: "us-central1",
  };

  type Row = readonly [string, Record<string, string>, Record<string, string>, Expected];
  it.each<Row>([
    [
      "logged in: GEMINI_API_KEY",
      { GEMINI_API_KEY: "AIzaSECRETKEY" },
      {},
      { status: "pass", detail: "ok (api-key-env)" },
    ],
    [
      "logged in: gemini-api-key selected, the key in the workspace's .env",
      {},
      { settings: selected("gemini-api-key"), workEnv: "# local\nGEMINI_API_KEY=AIzaSECRETKEY\n" },
      { status: "pass", detail: "ok (api-key-env)" },
    ],
    [
      "logged in: Google login (oauth-personal)",
      {},
      { settings: selected("oauth-personal"), creds: creds(NOW + 50 * MIN + 24 * HOUR) },
      { status: "pass", detail: "ok (oauth-file)" },
    ],
    ["logged in: Vertex AI variables", VERTEX, {}, { status: "pass", detail: "ok (vertex-env)" }],
    [
      "expiring: Google token valid for 30 more minutes, no refresh token",
      {},
      { settings: selected("oauth-personal"), creds: creds(NOW + 30 * MIN, "") },
      { status: "warn", code: "W_AGENT_AUTH_EXPIRING", says: "expires in 30 min" },
    ],
    [
      "expired, refreshable: Google token expired with a refresh token",
      {},
      { settings: selected("oauth-personal"), creds: creds(NOW - 2 * HOUR) },
      { status: "warn", detail: "refreshable (oauth-file)", code: "W_AGENT_AUTH_REFRESHABLE", says: "expired 2 h ago" },
    ],
    [
      "expired: Google token expired, no refresh token",
      {},
      { settings: selected("oauth-personal"), creds: creds(NOW - 2 * HOUR, "") },
      { status: "fail", code: "E_AGENT_AUTH_EXPIRED", fix: LOGIN },
    ],
    [
      "logged out: nothing at all (Gemini CLI exits 41)",
      {},
      {},
      { status: "fail", code: "E_AGENT_AUTH_MISSING", says: "exits 41", fix: LOGIN },
    ],
    [
      "logged out: oauth-personal selected, no oauth_creds.json",
      {},
      { settings: selected("oauth-personal") },
      { status: "fail", code: "E_AGENT_AUTH_MISSING", fix: LOGIN },
    ],
    [
      "logged out: vertex-ai selected, no project",
      { GOOGLE_CLOUD_PROJECT: "my-project" },
      { settings: selected("vertex-ai") },
      { status: "fail", code: "E_AGENT_AUTH_MISSING", says: "GOOGLE_CLOUD_LOCATION", fix: LOGIN },
    ],
    [
      "logged out: a key in <home>/.gemini/.env of an untrusted workspace",
      {},
      { geminiEnv: "GEMINI_API_KEY=AIzaSECRETKEY\n" },
      { status: "fail", code: "E_AGENT_AUTH_MISSING", fix: LOGIN },
    ],
    [
      "malformed: truncated oauth_creds.json",
      {},
      { settings: selected("oauth-personal"), creds: '{\n  "access_token": "ya29.SECRETACCESS",\n  "refresh_' },
      { status: "fail", code: "E_AGENT_AUTH_UNREADABLE", says: "not valid JSON", fix: LOGIN },
    ],
    [
      "malformed: settings.json that is not JSON even without comments",
      { GEMINI_API_KEY: "AIzaSECRETKEY" },
      { settings: '{ "security": { "auth": { "selectedType": "gemini-api-key" } }' },
      { status: "fail", code: "E_AGENT_AUTH_UNREADABLE", says: "settings.json", fix: LOGIN },
    ],
  ])("%s", async (_name, env, files, expected) => {
    if (files.settings !== undefined) await put(settings(), files.settings);
    if (files.creds !== undefined) await put(oauthCreds(), files.creds);
    if (files.workEnv !== undefined) await put(join(work, ".env"), files.workEnv);
    if (files.geminiEnv !== undefined) await put(join(geminiDir(), ".env"), files.geminiEnv);
    expectOutcome(await run("gemini-cli", env), expected);
  });

  it("a key in <home>/.gemini/.env counts once the workspace is trusted", async () => {
    await put(join(geminiDir(), ".env"), "GEMINI_API_KEY=AIzaSECRETKEY\n");
    const r = await run("gemini-cli", { GEMINI_CLI_TRUST_WORKSPACE: "true" });
    expectOutcome(r, { status: "pass", detail: "ok (api-key-env)" });
  });

  it("reads <stateDir>/agents/gemini-cli, not ~/.gemini, when the runtime has a state dir", async () => {
    await put(join(home, ".gemini", "settings.json"), selected("oauth-personal"));
    await put(join(home, ".gemini", "oauth_creds.json"), creds(NOW + 24 * HOUR));
    expectOutcome(await run("gemini-cli"), { status: "fail", code: "E_AGENT_AUTH_MISSING" });
    expectOutcome(await run("gemini-cli", { GEMINI_CLI_HOME: home }), { status: "pass", detail: "ok (oauth-file)" });
  });

  it("with runtime_config.base_url only GEMINI_API_KEY counts, whatever settings.json selects", async () => {
    await put(settings(), selected("oauth-personal"));
    await put(oauthCreds(), creds(NOW + 24 * HOUR));
    const baseUrl = { base_url: "http://127.0.0.1:9" };
    const r = await run("gemini-cli", VERTEX, baseUrl);
    expectOutcome(r, {
      status: "fail",
      code: "E_AGENT_AUTH_MISSING",
      says: "runtime_config.base_url",
      fix: ["GEMINI_API_KEY"],
    });
    expect(r.failures[0]?.fix).not.toContain("log in");
    await put(join(work, ".env"), "GEMINI_API_KEY=AIzaSECRETKEY\n");
    expectOutcome(await run("gemini-cli", {}, baseUrl), { status: "pass", detail: "ok (api-key-env)" });
  });
});

describe("claude-code: agent-auth end to end (malformed credentials)", () => {
  it("a truncated .credentials.json fails as unreadable, with the /login fix", async () => {
    await put(
      join(home, ".claude", ".credentials.json"),
      '{"claudeAiOauth":{"accessToken":"sk-ant-oat01-SECRETACCESS","refreshToken":"sk-ant-ort01-SECRETREFRESH","expiresAt":18',
    );
    expectOutcome(await run("claude-code"), {
      status: "fail",
      code: "E_AGENT_AUTH_UNREADABLE",
      says: "not valid JSON",
      fix: ["/login", "ANTHROPIC_API_KEY"],
    });
  });
});

describe("the gate's credential fingerprint follows the state dir", () => {
  it("a login written into <stateDir>/agents/codex clears an observed auth failure", async () => {
    const env = baseEnv(home, { MOLECULE_STATE_DIR: stateDir });
    const gate = createPreflightGate({
      checks: [agentAuthCheck],
      ctx: { env, config: config({ runtime: "codex" }), clock: createFakeClock(NOW), workspaceDir: work },
    });
    await put(join(stateDir, "agents", "codex", "auth.json"), '{"OPENAI_API_KEY":"sk-proj-SECRETKEY"}');
    expect((await gate.check()).ok).toBe(true);
    expect(gate.noteAgentOutput("unexpected status 401 Unauthorized: Incorrect API key provided")).toBe(true);
    expect((await gate.check()).failures.map((f) => f.code)).toEqual(["E_AGENT_AUTH_OBSERVED"]);
    await put(join(stateDir, "agents", "codex", "auth.json"), '{"OPENAI_API_KEY":"sk-proj-SECRETKEY-2"}');
    expect((await gate.check()).ok).toBe(true);
  });
});
