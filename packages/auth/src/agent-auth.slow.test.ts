import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CLAUDE_BIN, OFFLINE_CLAUDE_ENV, removeDir, runProcess, tempDir } from "@molecule/test-support";
import { describe, expect, it } from "vitest";
import { checkAgentAuth } from "./agent-auth.js";

// The real Claude Code CLI (root devDependency, pinned 2.1.197). `claude auth status` reads the same
// credentials file offline; these tests check that our token-free verdict agrees with the CLI's.
const claude = CLAUDE_BIN;
const present = existsSync(claude);
const skipReason = "the Claude Code CLI is not installed at node_modules/.bin/claude (run pnpm install at the root)";
if (!present && process.env.CI !== "true") console.warn(`skipping real-CLI auth tests: ${skipReason}`);

const FAR = Date.parse("2100-01-01T00:00:00Z");

async function cliLoggedIn(home: string): Promise<boolean> {
  const cwd = await tempDir("auth-cli-cwd-");
  try {
    const env = { PATH: process.env.PATH ?? "", HOME: home, ...OFFLINE_CLAUDE_ENV };
    // exit 1 when logged out: the JSON on stdout is what we read
    const { stdout, stderr } = await runProcess(claude, ["auth", "status"], { cwd, env, timeoutMs: 20_000 });
    if (!stdout) throw new Error(`no output from claude auth status; stderr: ${stderr}`);
    const status: unknown = JSON.parse(stdout);
    if (typeof status !== "object" || status === null || !("loggedIn" in status))
      throw new Error(`unexpected: ${stdout}`);
    return status.loggedIn === true;
  } finally {
    await removeDir(cwd);
  }
}

const fixtures: Array<[string, string | undefined, boolean, string]> = [
  ["no credentials file", undefined, false, "missing"],
  ["malformed JSON", "{bad", false, "unreadable"],
  ["no access token", JSON.stringify({ claudeAiOauth: { refreshToken: "r" } }), false, "no-token"],
  [
    "scopes without user:inference",
    JSON.stringify({
      claudeAiOauth: { accessToken: "a", refreshToken: "r", expiresAt: FAR, scopes: ["user:profile"] },
    }),
    false,
    "no-scope",
  ],
  [
    "scoped, valid token",
    JSON.stringify({
      claudeAiOauth: {
        accessToken: "a",
        refreshToken: "r",
        expiresAt: FAR,
        scopes: ["user:inference", "user:profile"],
      },
    }),
    true,
    "ok",
  ],
];

describe.skipIf(!present && process.env.CI !== "true")("checkAgentAuth agrees with the real CLI", () => {
  it.each(fixtures)("%s", async (_name, content, loggedIn, state) => {
    const home = await mkdtemp(path.join(os.tmpdir(), "auth-cli-home-"));
    try {
      if (content !== undefined) {
        await mkdir(path.join(home, ".claude"));
        await writeFile(path.join(home, ".claude", ".credentials.json"), content, { mode: 0o600 });
      }
      const ours = await checkAgentAuth({ agent: "claude-code", home, env: {} });
      expect(ours.state).toBe(state);
      expect(ours.ok).toBe(loggedIn);
      expect(await cliLoggedIn(home)).toBe(loggedIn);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("scopes absent: the CLI says logged out; we stay ok (as the issue asks) but warn", async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), "auth-cli-home-"));
    try {
      await mkdir(path.join(home, ".claude"));
      await writeFile(
        path.join(home, ".claude", ".credentials.json"),
        JSON.stringify({ claudeAiOauth: { accessToken: "a", refreshToken: "r", expiresAt: FAR } }),
      );
      const ours = await checkAgentAuth({ agent: "claude-code", home, env: {} });
      expect(ours).toMatchObject({ ok: true, state: "ok" });
      expect(ours.warnings.join(" ")).toContain("logged out");
      expect(await cliLoggedIn(home)).toBe(false);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
