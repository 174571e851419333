import { randomUUID } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CLAUDE_BIN_DIR,
  modelRequestTexts,
  OFFLINE_CLAUDE_ENV,
  REPO_ROOT,
  type StartedProcess,
  waitFor,
} from "@molecule/test-support";
import { type FakeModelApi, startFakeModelApi, startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBin, startBin } from "./test-util.js";

// `molecule send` against `molecule run` driving the real Claude Code CLI, offline against the fake
// model API: the reply's context id, --context-id to continue, --stream with progress.
let tmp: string;
let platform: TestPlatform;
let api: FakeModelApi;
let daemon: StartedProcess;
let env: Record<string, string>;
let url = "";
const workspaceId = randomUUID();

/** The fake model answers `ANSWER-<n>` to the newest `[[n]]` in the request. */
function answer(body: unknown): string {
  const texts = modelRequestTexts(body);
  for (let i = texts.length - 1; i >= 0; i -= 1) {
    const found = /\[\[(\w+)\]\]/.exec(texts[i] ?? "");
    if (found) return `ANSWER-${found[1]}`;
  }
  return "hello";
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-cli-send-"));
  const configs = join(tmp, "configs");
  await cp(join(REPO_ROOT, "examples/workspace"), configs, { recursive: true });
  await mkdir(join(tmp, "home"));
  await mkdir(join(tmp, "work"));
  const yaml = (await readFile(join(configs, "config.yaml"), "utf8"))
    .replace("  port: 8000", "  port: 0")
    .replace("  interval_seconds: 30", "  interval_seconds: 1")
    .replace("  timeout: 600", "  timeout: 90");
  await writeFile(join(configs, "config.yaml"), yaml);
  platform = await startTestPlatform();
  api = await startFakeModelApi({ reply: (request) => answer(request.body) });
  env = {
    ...OFFLINE_CLAUDE_ENV,
    HOME: join(tmp, "home"),
    PATH: `${CLAUDE_BIN_DIR}:${process.env.PATH}`,
    WORKSPACE_ID: workspaceId,
    PLATFORM_URL: platform.url,
    HOSTNAME: "localhost",
    ANTHROPIC_BASE_URL: api.url,
    ANTHROPIC_API_KEY: "test-key",
    LOG_LEVEL: "warn",
  };
  daemon = startBin(
    ["run", "--config", configs, "--state-dir", join(tmp, "state"), "--workspace-dir", join(tmp, "work")],
    { env, cwd: tmp, timeoutMs: 170_000 },
  );
  await waitFor(() => platform.workspaces.get(workspaceId)?.status === "online", 30_000);
  url = (platform.workspaces.get(workspaceId)?.url ?? "").replace("localhost", "127.0.0.1");
}, 60_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill("SIGTERM");
    await daemon.exited;
  }
  await api?.close();
  await platform?.close();
  await rm(tmp, { recursive: true, force: true });
});

const molecule = (args: string[]) => runBin(args, { env, cwd: tmp, timeoutMs: 120_000 });
const requestFor = (n: string) =>
  api
    .messages()
    .filter((m) => answer(m.body) === `ANSWER-${n}`)
    .at(-1);

describe("molecule send, with the real Claude Code CLI", () => {
  it("prints the reply's context id; --context-id continues that conversation", async () => {
    const first = await molecule(["send", url, "[[1]] Remember the word PAPAYA."]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("ANSWER-1\n");
    const context = /^context: (\S+) /.exec(first.stderr)?.[1];
    expect(context).toEqual(expect.any(String));

    const second = await molecule(["send", url, "[[2]] Which word?", "--context-id", String(context)]);
    expect(second.stdout).toBe("ANSWER-2\n");
    expect(second.stderr).toContain(`context: ${context} `);
    expect(modelRequestTexts(requestFor("2")?.body).join("\n")).toContain("PAPAYA");

    const other = await molecule(["send", url, "[[3]] A new conversation.", "--context-id", "cli-other"]);
    expect(other.stderr).toContain("context: cli-other ");
    expect(modelRequestTexts(requestFor("3")?.body).join("\n")).not.toContain("PAPAYA");
  }, 150_000);

  it("--stream prints progress on stderr as it arrives (a model API retry), then the reply", async () => {
    api.setMode("fail-first:1:529");
    const run = await molecule(["send", url, "[[4]] Streamed.", "--stream", "--context-id", "cli-stream"]);
    api.setMode("ok");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("ANSWER-4\n");
    expect(run.stderr).toMatch(/^… model API retry 1$/m);
    expect(run.stderr).toMatch(/^context: cli-stream \(continue with --context-id cli-stream\)$/m);
  }, 150_000);
});
