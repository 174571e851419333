import { chmod, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sinkLogger } from "@molecule/test-support";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkAgentAuth } from "./agent-auth.js";
import { AuthError } from "./errors.js";
import { createTokenStore, type TokenStore } from "./token-store.js";

const T1 = "tok1-Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA";
const T2 = "tok2-cm90YXRlZHJvdGF0ZWRyb3RhdGVkcm90YXRlZA";

let dir: string;
let file: string;
const stores: TokenStore[] = [];

/** Everything an error could show: message, stack, own fields, and the same for its cause chain. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth += 1) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? "", JSON.stringify(e), String(e));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join("\n");
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "auth-secret-"));
  file = path.join(dir, ".auth_token");
});
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe("loose mode", () => {
  it("warns once when the token file is group/world readable, naming the file, the mode and the fix", async () => {
    await writeFile(file, T1);
    await chmod(file, 0o644);
    const { logger, lines: records } = sinkLogger();
    const s = createTokenStore({ configsDir: dir, env: {}, logger });
    expect(await s.get()).toBe(T1);
    await rename(await writeTemp(T2, 0o644), file); // re-read of another loose file
    expect(await s.get()).toBe(T2);
    await s.refreshFromDisk();
    const loose = records.filter((r) => (r.obj as { event?: string }).event === "token.loose_mode");
    expect(loose).toHaveLength(1);
    expect(loose[0]?.level).toBe("warn");
    expect(loose[0]?.obj).toEqual({ event: "token.loose_mode", file, mode: "0644" });
    expect(loose[0]?.msg).toContain("chmod 600");
  });

  it("does not warn for a 0600 or 0400 file", async () => {
    const { logger, lines: records } = sinkLogger();
    await writeFile(file, T1, { mode: 0o600 });
    await createTokenStore({ configsDir: dir, env: {}, logger }).get();
    await chmod(file, 0o400);
    await createTokenStore({ configsDir: dir, env: {}, logger }).get();
    expect(records.filter((r) => (r.obj as { event?: string }).event === "token.loose_mode")).toEqual([]);
  });

  it("does not warn for a mounted Secret's 0440 file (the ..data symlink layout), but does for 0444", async () => {
    const { logger, lines: records } = sinkLogger();
    const data = path.join(dir, "..2026_11_25_14_00_00.1");
    await mkdir(data);
    await writeFile(path.join(data, ".auth_token"), T1);
    await chmod(path.join(data, ".auth_token"), 0o440);
    await symlink("..2026_11_25_14_00_00.1", path.join(dir, "..data"));
    await symlink("..data/.auth_token", file);
    expect(await createTokenStore({ configsDir: dir, env: {}, logger }).get()).toBe(T1);
    expect(records.filter((r) => (r.obj as { event?: string }).event === "token.loose_mode")).toEqual([]);
    await chmod(path.join(data, ".auth_token"), 0o444);
    await createTokenStore({ configsDir: dir, env: {}, logger }).get();
    expect(records.filter((r) => (r.obj as { event?: string }).event === "token.loose_mode")).toHaveLength(1);
  });

  it("is silent without a logger (no console output path) and still works", async () => {
    await writeFile(file, T1, { mode: 0o666 });
    await chmod(file, 0o666);
    expect(await createTokenStore({ configsDir: dir, env: {} }).get()).toBe(T1);
  });
});

describe("the token never appears in a log line or an error", () => {
  it("through save, get, rotation, listener failures, loose mode and every error path", async () => {
    const { logger, text } = sinkLogger();
    const errors: unknown[] = [];
    const clock = createFakeClock(0);
    const s = createTokenStore({ configsDir: dir, env: { MOLECULE_ORG_ID: "org" }, logger, watch: true, clock });
    stores.push(s);
    s.onRotated((token) => {
      throw new Error(`listener rejects ${token}`);
    });
    s.onRotated(async (token) => {
      throw new Error(`async listener rejects ${token}`);
    });

    await s.save(T1);
    await chmod(file, 0o644);
    await s.get();
    await s.save(T1); // identical → tighten
    await s.save(T2); // rotation through save
    await rename(await writeTemp(T1, 0o644), file); // rotation on disk
    await s.refreshFromDisk();
    await s.headers();
    await s.selfSourceHeaders("ws");

    // error paths
    errors.push(await s.save("  ").catch((e: unknown) => e));
    errors.push(await s.save(`${T1} ${T2}`).catch((e: unknown) => e));
    await writeFile(file, `${T1}\n${T2}\n`);
    errors.push(await s.get().catch((e: unknown) => e));
    await clock.advance(5_000); // the poll meets the bad file and logs a check failure
    await waitFor(() => text().includes("token.check_failed"));
    await rm(file);
    await mkdir(file);
    errors.push(await s.get().catch((e: unknown) => e));
    await rm(file, { recursive: true });
    if (process.getuid?.() !== 0) {
      await chmod(dir, 0o500);
      errors.push(await s.save(T2).catch((e: unknown) => e));
      await chmod(dir, 0o700);
    }
    await writeFile(file, "not-a-dir");
    errors.push(
      await createTokenStore({ configsDir: path.join(file, "sub"), env: {} })
        .save(T1)
        .catch((e: unknown) => e),
    );
    errors.push(await s.selfSourceHeaders("").catch((e: unknown) => e));

    const realErrors = errors.filter((e) => e instanceof Error);
    expect(realErrors.length).toBeGreaterThanOrEqual(6);
    for (const e of realErrors) expect(AuthError.isInstance(e)).toBe(true);
    const codes = new Set(realErrors.map((e) => (e as AuthError).code));
    for (const code of ["E_TOKEN_EMPTY", "E_TOKEN_INVALID", "E_TOKEN_READ", "E_TOKEN_WRITE", "E_WORKSPACE_ID_EMPTY"]) {
      expect(codes).toContain(code);
    }

    const logged = text();
    expect(logged).toContain("token.rotated");
    expect(logged).toContain("token.listener_failed");
    expect(logged).toContain("token.loose_mode");
    const everything = `${logged}\n${errors.map(errorText).join("\n")}`;
    for (const secret of [T1, T2, T1.slice(5), T2.slice(5)]) expect(everything).not.toContain(secret);
  });

  it("checkAgentAuth results never carry a credential, whatever the state", async () => {
    const secret = "sk-ant-oat01-NEVERSHOWNEVERSHOW";
    const home = path.join(dir, "home");
    const claudeDir = path.join(home, ".claude");
    await mkdir(claudeDir, { recursive: true });
    const credentials = path.join(claudeDir, ".credentials.json");
    const now = Date.parse("2030-01-01T00:00:00Z");
    const bodies = [
      `{"claudeAiOauth":{"accessToken":${secret}}}`,
      `{"claudeAiOauth":{"accessToken":"${secret}"`,
      `{"claudeAiOauth":{"accessToken":"${secret}\u0001"}}`,
      JSON.stringify({ claudeAiOauth: { accessToken: secret, scopes: [] } }),
      JSON.stringify({ claudeAiOauth: { accessToken: secret, scopes: ["user:inference"], expiresAt: now - 1 } }),
      JSON.stringify({ claudeAiOauth: { accessToken: secret, refreshToken: secret, expiresAt: now - 1 } }),
      JSON.stringify({ claudeAiOauth: { accessToken: secret, expiresAt: now + 60_000 * 30 } }),
      JSON.stringify({ claudeAiOauth: { accessToken: secret, expiresAt: secret } }),
    ];
    const results: unknown[] = [];
    for (const body of bodies) {
      await writeFile(credentials, body);
      results.push(await checkAgentAuth({ agent: "claude-code", home, env: {}, clock: { now: () => now } }));
    }
    for (const name of ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"]) {
      results.push(await checkAgentAuth({ agent: "claude-code", home, env: { [name]: secret } }));
    }
    results.push(await checkAgentAuth({ agent: "codex", home, env: { OPENAI_API_KEY: secret } }));
    results.push(await checkAgentAuth({ agent: "gemini-cli", home, env: { GEMINI_API_KEY: secret } }));
    const states = new Set(results.map((r) => (r as { state: string }).state));
    for (const state of ["unreadable", "no-scope", "expired", "refreshable", "expiring", "ok"])
      expect(states).toContain(state);
    expect(JSON.stringify(results)).not.toContain("NEVERSHOW");
  });
});

async function writeTemp(content: string, mode: number): Promise<string> {
  const tmp = path.join(dir, `next-${Math.random().toString(36).slice(2)}`);
  await writeFile(tmp, content);
  await chmod(tmp, mode);
  return tmp;
}

async function waitFor(condition: () => boolean, limitMs = 5_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
