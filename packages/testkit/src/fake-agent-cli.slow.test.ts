import {
  CLAUDE_BIN as CLAUDE,
  OFFLINE_CLAUDE_ENV,
  type ProcessResult,
  removeDir,
  runProcess,
  tempDir,
} from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fakeAgentCli, startFakeModelApi } from "./index.js";

// The fakes must look like the real Claude Code CLI: compare them with it (offline). Never skipped.

let home: string;
let cwd: string;
let dir: string;
beforeEach(async () => {
  home = await tempDir("claude-home-");
  cwd = await tempDir("claude-cwd-");
  dir = await tempDir("fake-cli-");
});
afterEach(async () => {
  for (const d of [home, cwd, dir]) await removeDir(d);
});

function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  const childEnv = { PATH: process.env.PATH ?? "", HOME: home, ...OFFLINE_CLAUDE_ENV, ...env };
  return runProcess(bin, args, { cwd, env: childEnv, timeoutMs: 50_000 });
}

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const KEY_FIELDS = ["type", "subtype", "is_error", "api_error_status", "result", "session_id", "num_turns", "usage"];

describe("fakeAgentCli looks like the real CLI", { timeout: 120_000 }, () => {
  it("--version", async () => {
    const real = await run(CLAUDE, ["--version"]);
    const fake = await run(await fakeAgentCli({ dir }), ["--version"]);
    expect(fake).toEqual({ code: real.code, signal: null, stdout: real.stdout, stderr: "" });
  });

  it("not-logged-in: same exit code, same text, same key fields in json", async () => {
    const real = await run(CLAUDE, ["-p", "--output-format", "json", "hi"]);
    const fake = await run(await fakeAgentCli({ dir, behaviour: "not-logged-in" }), [
      "-p",
      "--output-format",
      "json",
      "hi",
    ]);
    expect(fake.code).toBe(real.code);
    const [r, f] = [json(real.stdout), json(fake.stdout)];
    for (const key of KEY_FIELDS) expect(typeof f[key], key).toBe(typeof r[key]);
    expect(f).toMatchObject({ is_error: r.is_error, subtype: r.subtype, result: r.result });
  });

  it("missing-session: same stderr, stdout and exit code", async () => {
    const id = "11111111-1111-4111-8111-111111111111";
    const args = ["-p", "--output-format", "json", "--resume", id, "hi"];
    const real = await run(CLAUDE, args);
    const fake = await run(await fakeAgentCli({ dir, behaviour: "missing-session" }), args);
    expect(fake).toEqual(real);
  });

  it("ok: the fake's json result has the real successful turn's key fields (real turn via startFakeModelApi)", async () => {
    const api = await startFakeModelApi({ reply: "same" });
    try {
      const real = await run(CLAUDE, ["-p", "--output-format", "json", "hi"], {
        ANTHROPIC_BASE_URL: api.url,
        ANTHROPIC_API_KEY: "test-key",
      });
      const fake = await run(await fakeAgentCli({ dir, reply: "same" }), ["-p", "--output-format", "json", "hi"]);
      expect(fake.code).toBe(real.code);
      const [r, f] = [json(real.stdout), json(fake.stdout)];
      for (const key of KEY_FIELDS) expect(typeof f[key], key).toBe(typeof r[key]);
      expect(f).toMatchObject({ type: r.type, subtype: r.subtype, is_error: false, result: r.result });
      // the fake invents no top-level field the real CLI does not print
      for (const key of Object.keys(f)) expect(Object.keys(r), key).toContain(key);
    } finally {
      await api.close();
    }
  });

  it("ok in stream-json: the same line sequence as the real CLI", async () => {
    const api = await startFakeModelApi({ reply: "same" });
    const args = ["-p", "--output-format", "stream-json", "--verbose", "hi"];
    try {
      const real = await run(CLAUDE, args, { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: "test-key" });
      const fake = await run(await fakeAgentCli({ dir, reply: "same" }), args);
      const shape = (text: string) =>
        text
          .trim()
          .split("\n")
          .map((line) => json(line))
          .map((l) => [l.type, l.subtype ?? null, l.result ?? null]);
      expect(shape(fake.stdout)).toEqual(shape(real.stdout));
    } finally {
      await api.close();
    }
  });
});
