import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentBinaryCheck } from "./agent-checks.js";
import { baseEnv, config, REAL_CLAUDE_DIR, removeDir, runOne, tempDir, writeScript } from "./testing.js";

let home: string;
let bin: string;
beforeEach(async () => {
  home = await tempDir("molecule-home-");
  bin = join(home, "bin");
  await mkdir(bin);
});
afterEach(async () => {
  await removeDir(home);
});

describe("agent-binary", () => {
  it("finds the real claude on PATH and records its version", async () => {
    const env = baseEnv(home, { PATH: `${REAL_CLAUDE_DIR}:/usr/bin:/bin` });
    const r = await runOne(agentBinaryCheck, { env });
    expect(r.ok).toBe(true);
    expect(r.checks[1]?.status).toBe("pass");
    expect(r.checks[1]?.detail).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)$/);
  });

  it("fails when claude is not on PATH", async () => {
    const r = await runOne(agentBinaryCheck, { env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }) });
    expect(r.failures).toMatchObject([{ code: "E_AGENT_BINARY_MISSING" }]);
    expect(r.failures[0]?.detail).toContain("claude is not on PATH");
    expect(r.failures[0]?.fix).toContain("@anthropic-ai/claude-code");
  });

  it("an absolute runtime_config.command overrides the runtime's binary", async () => {
    // A wrapper elsewhere (the pnpm shim itself finds its target relative to its own directory).
    await writeFile(join(bin, "my-claude"), `#!/bin/sh\nexec ${join(REAL_CLAUDE_DIR, "claude")} "$@"\n`, {
      mode: 0o755,
    });
    const cfg = config({ runtime_config: { command: join(bin, "my-claude") } });
    const r = await runOne(agentBinaryCheck, { env: baseEnv(home), config: cfg });
    expect(r.checks[1]?.detail).toMatch(/\(Claude Code\)$/);
    const missing = config({ runtime_config: { command: join(bin, "nope") } });
    const r2 = await runOne(agentBinaryCheck, { env: baseEnv(home), config: missing });
    expect(r2.failures[0]?.detail).toContain(`${join(bin, "nope")} is not an executable file`);
  });

  it("each runtime has its own binary (codex → codex)", async () => {
    await writeScript(join(bin, "codex"), 'console.log("codex-cli 0.169.0")');
    const r = await runOne(agentBinaryCheck, {
      env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }),
      config: config({ runtime: "codex" }),
    });
    expect(r.checks[1]).toMatchObject({ status: "pass", detail: "codex-cli 0.169.0" });
  });

  it("a --version that exits non-zero fails with its output", async () => {
    await writeScript(join(bin, "claude"), 'console.error("Error: native binary not installed"); process.exit(3)');
    const r = await runOne(agentBinaryCheck, { env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }) });
    expect(r.failures).toMatchObject([{ code: "E_AGENT_VERSION_FAILED" }]);
    expect(r.failures[0]?.detail).toContain("exited with code 3: Error: native binary not installed");
  });

  it("a --version that hangs fails after 5 s naming the timeout, and the process is killed", async () => {
    const marker = join(home, "started");
    await writeScript(
      join(bin, "claude"),
      `require("fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid)); setInterval(() => {}, 1000);`,
    );
    const clock = createFakeClock(0);
    const pending = runOne(agentBinaryCheck, { env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }), clock });
    for (;;) {
      if (
        await access(marker).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const pid = Number(await readFile(marker, "utf8"));
    await clock.advance(14_999);
    expect(isAlive(pid)).toBe(true);
    await clock.advance(1);
    const r = await pending;
    expect(r.failures).toMatchObject([{ code: "E_AGENT_VERSION_TIMEOUT" }]);
    expect(r.failures[0]?.detail).toContain("did not answer within 15 s");
    for (let i = 0; i < 100 && isAlive(pid); i += 1) await new Promise((res) => setTimeout(res, 10));
    expect(isAlive(pid)).toBe(false);
  });

  it("the command runtime needs runtime_config.command and only checks it exists", async () => {
    const none = await runOne(agentBinaryCheck, { env: baseEnv(home), config: config({ runtime: "command" }) });
    expect(none.failures).toMatchObject([{ code: "E_AGENT_COMMAND_MISSING" }]);
    await writeScript(join(bin, "worker"), "process.exit(9)");
    const ok = await runOne(agentBinaryCheck, {
      env: baseEnv(home, { PATH: `${bin}:/usr/bin:/bin` }),
      config: config({ runtime: "command", runtime_config: { command: "worker" } }),
    });
    expect(ok.checks[1]).toMatchObject({ status: "pass", detail: join(bin, "worker") });
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
