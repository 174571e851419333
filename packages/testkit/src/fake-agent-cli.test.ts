import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ProcessResult, runProcess } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeAgentBehaviour, fakeAgentCli, readFakeAgentCalls, TestkitError } from "./index.js";

function run(
  cli: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return runProcess(cli, args, {
    cwd: opts.cwd ?? tmpdir(),
    env: { PATH: process.env.PATH ?? "", ...opts.env },
    input: opts.stdin,
    timeoutMs: opts.timeoutMs ?? 10_000,
  });
}

const lines = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fake-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const make = (behaviour: FakeAgentBehaviour | FakeAgentBehaviour[], reply?: string) =>
  fakeAgentCli({ dir, behaviour, ...(reply === undefined ? {} : { reply }) });

describe("fakeAgentCli", () => {
  it("writes an executable node script", async () => {
    const cli = await make("ok");
    expect(cli).toBe(join(dir, "claude"));
    expect((await stat(cli)).mode & 0o777).toBe(0o755);
    const version = await run(cli, ["--version"]);
    expect(version).toMatchObject({ code: 0, stdout: "2.1.197 (Claude Code)\n" });
  });

  it("ok: json result with a session id; text mode prints the reply", async () => {
    const cli = await make("ok", "hello there");
    const json = await run(cli, ["-p", "--output-format", "json", "hi"]);
    expect(json.code).toBe(0);
    const [result] = lines(json.stdout);
    expect(result).toMatchObject({ type: "result", subtype: "success", is_error: false, result: "hello there" });
    expect(result?.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const text = await run(cli, ["-p", "hi"]);
    expect(text).toMatchObject({ code: 0, stdout: "hello there\n" });
  });

  it("ok: stream-json needs --verbose and prints init, assistant, result", async () => {
    const cli = await make("ok", "streamed");
    const bad = await run(cli, ["-p", "--output-format", "stream-json", "hi"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("requires --verbose");
    const good = await run(cli, ["-p", "--output-format", "stream-json", "--verbose", "--resume", "abc", "hi"]);
    expect(good.code).toBe(0);
    const [init, assistant, result] = lines(good.stdout);
    expect(init).toMatchObject({ type: "system", subtype: "init", session_id: "abc" });
    expect(assistant).toMatchObject({ type: "assistant", message: { content: [{ type: "text", text: "streamed" }] } });
    expect(result).toMatchObject({ type: "result", result: "streamed", session_id: "abc", is_error: false });
  });

  it("not-logged-in: the CLI's text on stdout, exit 1; is_error in json; authentication_failed in stream-json", async () => {
    const cli = await make("not-logged-in");
    expect(await run(cli, ["-p", "hi"])).toMatchObject({ code: 1, stdout: "Not logged in · Please run /login\n" });
    const json = await run(cli, ["-p", "--output-format", "json", "hi"]);
    expect(json.code).toBe(1);
    expect(lines(json.stdout)[0]).toMatchObject({
      is_error: true,
      subtype: "success",
      result: "Not logged in · Please run /login",
    });
    const stream = await run(cli, ["-p", "--output-format", "stream-json", "--verbose", "hi"]);
    expect(lines(stream.stdout)[1]).toMatchObject({ type: "assistant", error: "authentication_failed" });
    const status = await run(cli, ["auth", "status"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ loggedIn: false });
  });

  it("missing-session: only with --resume; stderr, empty stdout, exit 1", async () => {
    const cli = await make("missing-session");
    const resumed = await run(cli, ["-p", "--output-format", "json", "--resume", "s-1", "hi"]);
    expect(resumed).toMatchObject({ code: 1, stdout: "", stderr: "No conversation found with session ID: s-1\n" });
    const stream = await run(cli, ["-p", "--output-format", "stream-json", "--verbose", "--resume", "s-1", "hi"]);
    expect(lines(stream.stdout)).toEqual([
      expect.objectContaining({ type: "result", subtype: "error_during_execution", is_error: true }),
    ]);
    const fresh = await run(cli, ["-p", "--output-format", "json", "hi"]);
    expect(fresh.code).toBe(0);
  });

  it("init-timeout, empty-output-exit-0, is-error-json", async () => {
    const init = await run(await make("init-timeout"), ["-p", "hi"]);
    expect(init.code).toBe(1);
    expect(init.stderr).toMatch(/control request timeout: initialize/i);
    await rm(join(dir, "claude.calls.jsonl"));
    expect(await run(await make("empty-output-exit-0"), ["-p", "--output-format", "json", "hi"])).toMatchObject({
      code: 0,
      stdout: "",
    });
    const isError = await run(await make("is-error-json"), ["-p", "--output-format", "json", "hi"]);
    expect(isError.code).toBe(0);
    expect(lines(isError.stdout)[0]).toMatchObject({ is_error: true, api_error_status: 500 });
  });

  it("hang never exits on its own; crash dies by a signal with garbage output", async () => {
    const hang = await run(await make("hang"), ["-p", "hi"], { timeoutMs: 500 });
    expect(hang.signal).toBe("SIGKILL");
    await rm(join(dir, "claude.calls.jsonl"));
    const crash = await run(await make("crash"), ["-p", "--output-format", "json", "hi"]);
    expect(crash.signal ?? crash.code).not.toBe(0);
    expect(crash.signal === "SIGSEGV" || crash.code === 139).toBe(true);
    expect(() => JSON.parse(crash.stdout)).toThrow();
  });

  it("slow:<ms> answers ok after the wait", async () => {
    const slow = await run(await make("slow:50"), ["-p", "--output-format", "json", "hi"]);
    expect(slow.code).toBe(0);
    expect(lines(slow.stdout)[0]).toMatchObject({ is_error: false });
  });

  it("a behaviour list: the n-th turn uses the n-th entry, the last repeats; --version does not count", async () => {
    const cli = await make(["missing-session", "ok", "not-logged-in"]);
    const codes: Array<number | null> = [];
    for (let i = 0; i < 4; i += 1) {
      if (i === 1) await run(cli, ["--version"]);
      codes.push((await run(cli, ["-p", "--resume", "x", "hi"])).code);
    }
    expect(codes).toEqual([1, 0, 1, 1]);
    const calls = await readFakeAgentCalls(cli);
    expect(calls.map((c) => c.behaviour)).toEqual(["missing-session", "", "ok", "not-logged-in", "not-logged-in"]);
  });

  it("records argv, cwd, stdin and the env with secrets masked", async () => {
    const cli = await make("ok");
    expect(await readFakeAgentCalls(cli)).toEqual([]);
    const cwd = await mkdtemp(join(tmpdir(), "fake-cli-cwd-"));
    try {
      await run(cli, ["-p", "--output-format", "json"], {
        cwd,
        stdin: "the prompt",
        env: { ANTHROPIC_API_KEY: "sk-secret", CLAUDE_CODE_OAUTH_TOKEN: "oauth", PLAIN: "visible" },
      });
      await run(cli, ["-p", "--resume", "sess-9", "again"], { cwd });
      const [first, second] = await readFakeAgentCalls(cli);
      expect(first).toMatchObject({
        argv: ["-p", "--output-format", "json"],
        stdin: "the prompt",
        kind: "turn",
        resume: null,
        env: { ANTHROPIC_API_KEY: "***", CLAUDE_CODE_OAUTH_TOKEN: "***", PLAIN: "visible" },
      });
      expect(first?.cwd).toMatch(/fake-cli-cwd-/);
      expect(JSON.stringify(first)).not.toContain("sk-secret");
      expect(second).toMatchObject({ resume: "sess-9", sessionId: "sess-9" });
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it("works from a directory under a type:module package.json", async () => {
    await writeFile(join(dir, "package.json"), '{"type":"module"}');
    const cli = await make("ok");
    expect((await run(cli, ["--version"])).code).toBe(0);
  });

  it("refuses unknown behaviours and bad names", async () => {
    await expect(fakeAgentCli({ dir, behaviour: "explode" as FakeAgentBehaviour })).rejects.toSatisfy(
      (e: unknown) => TestkitError.isInstance(e) && e.code === "E_TESTKIT_BAD_OPTION",
    );
    await expect(fakeAgentCli({ dir, name: "../x" })).rejects.toThrow(/plain file name/);
  });
});
