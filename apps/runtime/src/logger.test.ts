import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AGENTS } from "@molecule/auth";
import { removeDir, tempDir } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger, flushLogs, REDACT_PATHS } from "./logger.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("logger-test-");
});
afterEach(async () => {
  await removeDir(dir);
});

describe("createLogger's redact paths", () => {
  it("name every registry agent's credential env vars", () => {
    for (const name of AGENTS.flatMap((agent) => agent.credentialEnv)) {
      expect(REDACT_PATHS).toContain(name);
      expect(REDACT_PATHS).toContain(`*.${name}`);
    }
  });

  it("remove a Codex or Gemini key from a logged env object, and an authorization header", async () => {
    const file = join(dir, "daemon.log");
    const log = createLogger({ file });
    log.info(
      {
        env: { CODEX_API_KEY: "codex-secret-value-0001", GEMINI_API_KEY: "gemini-secret-value-0002", PATH: "/bin" },
        headers: { authorization: "Bearer platform-token-0003" },
      },
      "spawned",
    );
    await flushLogs(); // the destination is asynchronous
    const text = await readFile(file, "utf8");
    for (const secret of ["codex-secret-value-0001", "gemini-secret-value-0002", "platform-token-0003"]) {
      expect(text).not.toContain(secret);
    }
    expect(JSON.parse(text.trim())).toMatchObject({
      env: { CODEX_API_KEY: "[redacted]", GEMINI_API_KEY: "[redacted]", PATH: "/bin" },
      headers: { authorization: "[redacted]" },
    });
  });
});
