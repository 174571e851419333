import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTokenStore } from "@molecule/auth";
import { removeDir, sinkLogger, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSecrets, maskingLogger } from "./redact.js";

const API_KEY = "sk-ant-api03-THE-WORKSPACE-OWN-KEY-0123456789";
const GITHUB = "ghp_0123456789abcdefghijklmnopqrstuv";

let home: string;
beforeEach(async () => {
  home = await tempDir("redact-test-");
});
afterEach(async () => {
  await removeDir(home);
});

function tokenStore(initial: string) {
  let current = initial;
  const listeners = new Set<(t: string) => void>();
  return {
    get: async () => current,
    onRotated(listener: (t: string) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    rotate(next: string) {
      current = next;
      for (const l of listeners) l(next);
    },
  };
}

describe("maskText and maskReply (the one masker of @molecule/internal)", () => {
  it("logs: known values (longest first) and the generic shapes; replies: exact known values only", () => {
    const secrets = createSecrets({ A_TOKEN: "abcdefgh1234", B_TOKEN: "abcdefgh1234567890" });
    const text = "got abcdefgh1234 and abcdefgh1234567890 Bearer zzzzzzzzzzzz sk-ant-api03-xyzxyzxyz";
    expect(secrets.maskText(text)).toBe("got [redacted] and [redacted] Bearer [redacted] sk-ant-api03-…[redacted]");
    expect(secrets.maskReply(text)).toBe("got abcdefgh1234 and [redacted] Bearer zzzzzzzzzzzz sk-ant-api03-xyzxyzxyz");
    expect(createSecrets({ SHORT_TOKEN: "abc" }).maskText("short secret abc")).toBe("short secret abc");
  });

  it("logs: every registry agent's credential env var is masked, known or not (Codex, Gemini)", () => {
    const codex = "codex-key-0000000000000000";
    const sink = sinkLogger();
    const log = maskingLogger(sink.logger, createSecrets({ CODEX_API_KEY: codex }));
    log.error({ event: "agent.stderr", line: `auth failed for ${codex}` }, `spawn env: CODEX_API_KEY=${codex}`);
    log.warn({ event: "agent.stderr", line: 'GEMINI_API_KEY="gemini-unknown-value-1234"' });
    expect(sink.text()).not.toContain(codex);
    expect(sink.text()).not.toContain("gemini-unknown-value-1234");
    expect(sink.lines[0]?.msg).toBe("spawn env: CODEX_API_KEY=[redacted]");
    expect(sink.lines[1]?.obj).toMatchObject({ line: 'GEMINI_API_KEY="[redacted]"' });
  });
});

describe("the daemon's secrets", () => {
  it("logs: every credential of the env, the platform token (current and previous) and the patterns are masked", async () => {
    const tokens = tokenStore("platform-token-one-0000000000");
    const secrets = createSecrets({
      ANTHROPIC_API_KEY: API_KEY,
      GITHUB_TOKEN: GITHUB,
      PATH: "/usr/bin:/bin",
      HOME: home,
    });
    secrets.track({ tokens, runtime: "claude-code" });
    await secrets.refresh();
    tokens.rotate("platform-token-two-1111111111");
    const line = `key=${API_KEY} gh=${GITHUB} old=platform-token-one-0000000000 new=platform-token-two-1111111111 Bearer abcdefghijk path=/usr/bin:/bin`;
    const masked = secrets.maskText(line);
    for (const secret of [API_KEY, GITHUB, "platform-token-one", "platform-token-two", "abcdefghijk"]) {
      expect(masked).not.toContain(secret);
    }
    expect(masked).toContain("path=/usr/bin:/bin"); // not a credential
  });

  it("replies: only the workspace's own credentials (exact, 16+ chars) — a key-shaped string the user asked for stays", async () => {
    const secrets = createSecrets({ ANTHROPIC_API_KEY: API_KEY, SHORT_TOKEN: "abcdefghij" });
    const reply = `here: ${API_KEY}; example: sk-ant-api03-EXAMPLE-EXAMPLE-EXAMPLE; Bearer abcdefghijklmnop; abcdefghij`;
    expect(secrets.maskReply(reply)).toBe(
      "here: [redacted]; example: sk-ant-api03-EXAMPLE-EXAMPLE-EXAMPLE; Bearer abcdefghijklmnop; abcdefghij",
    );
  });

  it("the agent's credentials file is read: its OAuth tokens are masked too", async () => {
    await mkdir(join(home, ".claude"), { recursive: true });
    await writeFile(
      join(home, ".claude", ".credentials.json"),
      JSON.stringify({
        claudeAiOauth: { accessToken: "oauth-access-AAAAAAAAAAAAAAAA", refreshToken: "oauth-refresh-RRRRRRRRRRRRRRR" },
        scopes: ["user:inference"],
      }),
    );
    const secrets = createSecrets({ HOME: home });
    secrets.track({ runtime: "claude-code" });
    await secrets.refresh();
    expect(secrets.maskReply("a oauth-access-AAAAAAAAAAAAAAAA b oauth-refresh-RRRRRRRRRRRRRRR c user:inference")).toBe(
      "a [redacted] b [redacted] c user:inference",
    );
  });

  it("refresh asks the token store only when its file changed; a token rewritten on disk is masked at the next refresh", async () => {
    const store = createTokenStore({ configsDir: home, env: {} });
    await store.save("platform-token-first-000000");
    let reads = 0;
    const tokens = {
      file: store.file,
      onRotated: store.onRotated,
      get: () => {
        reads += 1;
        return store.get();
      },
    };
    const secrets = createSecrets({ HOME: home });
    secrets.track({ tokens, runtime: "claude-code" });
    await secrets.refresh();
    await secrets.refresh();
    await secrets.refresh();
    expect(reads).toBe(1); // unchanged file: one stat, no read
    // Another process rotates the token (an atomic rename: a new inode), with no watcher running.
    await writeFile(join(home, "next"), "platform-token-second-11111\n", { mode: 0o600 });
    await rename(join(home, "next"), store.file);
    await secrets.refresh();
    expect(reads).toBe(2);
    expect(secrets.maskText("a platform-token-second-11111 b platform-token-first-000000")).toBe(
      "a [redacted] b [redacted]",
    );
    store.close();
  });

  it("a credentials file that appears later (a login after boot) is read at the next refresh", async () => {
    const secrets = createSecrets({ HOME: home });
    secrets.track({ runtime: "claude-code" });
    await secrets.refresh(); // no file yet
    await mkdir(join(home, ".claude"), { recursive: true });
    await writeFile(
      join(home, ".claude", ".credentials.json"),
      JSON.stringify({ claudeAiOauth: { accessToken: "oauth-late-login-LLLLLLLLLLLLLL" } }),
    );
    await secrets.refresh();
    expect(secrets.maskReply("x oauth-late-login-LLLLLLLLLLLLLL y")).toBe("x [redacted] y");
  });

  it("maskingLogger masks every string of a line: nested fields, arrays, errors and the message", () => {
    const sink = sinkLogger();
    const secrets = createSecrets({ ANTHROPIC_API_KEY: API_KEY });
    const log = maskingLogger(sink.logger, secrets);
    log.warn(
      { event: "x", err: new Error(`boom ${API_KEY}`), deep: { list: [`a ${API_KEY}`], n: 3 } },
      `msg Bearer ${API_KEY}`,
    );
    expect(sink.text()).not.toContain(API_KEY);
    expect(sink.lines[0]?.obj).toMatchObject({ event: "x", deep: { n: 3 } });
    expect(sink.lines[0]?.msg).toBe("msg Bearer [redacted]");
  });
});
