import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AgentAuthProbe, checkAgentAuth } from "./agent-auth.js";
import { describeJsonError } from "./agent-probes.js";
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

describe("other agents", () => {
  it("codex: OPENAI_API_KEY → ok by env", async () => {
    expect(await checkAgentAuth({ agent: "codex", home, env: { OPENAI_API_KEY: SECRET } })).toMatchObject({
      ok: true,
      method: "api-key-env",
    });
  });

  it("codex: ~/.codex/auth.json missing, with tokens, without tokens, broken", async () => {
    const codex = (env: Record<string, string> = {}) => checkAgentAuth({ agent: "codex", home, env });
    expect(await codex()).toMatchObject({ ok: false, state: "missing" });
    const authFile = path.join(home, ".codex", "auth.json");
    await mkdir(path.dirname(authFile));
    await writeFile(authFile, JSON.stringify({ OPENAI_API_KEY: null, tokens: { access_token: SECRET } }));
    const ok = await codex();
    expect(ok).toMatchObject({ ok: true, state: "ok", method: "oauth-file" });
    expectNoSecret(ok);
    await writeFile(authFile, JSON.stringify({ OPENAI_API_KEY: SECRET }));
    expect(await codex()).toMatchObject({ ok: true });
    await writeFile(authFile, JSON.stringify({ OPENAI_API_KEY: null, tokens: null }));
    expect(await codex()).toMatchObject({ ok: false, state: "no-token" });
    await writeFile(authFile, `{${SECRET}`);
    const broken = await codex();
    expect(broken).toMatchObject({ ok: false, state: "unreadable" });
    expectNoSecret(broken);
  });

  it("codex: CODEX_HOME is honoured", async () => {
    const codexHome = path.join(home, "codex-home");
    await mkdir(codexHome);
    await writeFile(path.join(codexHome, "auth.json"), JSON.stringify({ tokens: { access_token: SECRET } }));
    expect(await checkAgentAuth({ agent: "codex", home, env: { CODEX_HOME: codexHome } })).toMatchObject({ ok: true });
  });

  it("gemini-cli: GEMINI_API_KEY or missing", async () => {
    expect(await checkAgentAuth({ agent: "gemini-cli", home, env: { GEMINI_API_KEY: SECRET } })).toMatchObject({
      ok: true,
      method: "api-key-env",
    });
    expect(await checkAgentAuth({ agent: "gemini-cli", home, env: {} })).toMatchObject({ ok: false, state: "missing" });
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
  it.each(["agent-auth.ts", "agent-probes.ts", "agents.ts"])(
    "%s imports no process, network or HTTP API",
    async (file) => {
      const { readFile } = await import("node:fs/promises");
      const source = await readFile(new URL(`./${file}`, import.meta.url), "utf8");
      const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]);
      expect(imports.length).toBeGreaterThan(0);
      for (const forbidden of ["child_process", "http", "https", "net", "tls", "dgram", "undici"]) {
        expect(imports.some((i) => i === forbidden || i === `node:${forbidden}`)).toBe(false);
      }
      expect(source).not.toMatch(/\bfetch\s*\(/);
    },
  );
});
