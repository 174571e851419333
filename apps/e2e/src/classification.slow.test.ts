import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isRunning } from "@molecule/test-support";
import { type FakeAgentBehaviour, fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import { readScriptedCalls, type ScriptedAgentSpec, scriptedAgent } from "./support/agents.js";
import {
  type Daemon,
  getJson,
  killPids,
  metricValue,
  onCleanup,
  plantTranscript,
  replyText,
  sendMessage,
  startDaemon,
} from "./support/daemon.js";
import { view } from "./support/platform-view.js";
import { e2eSuite } from "./support/suite.js";

const REPLY = "the fake agent's answer";
const e2e = e2eSuite("molecule-e2e-agent-");

async function daemonWithFake(
  behaviour: FakeAgentBehaviour | FakeAgentBehaviour[],
  runtimeConfig: Record<string, unknown> = {},
): Promise<{ d: Daemon; cli: string; v: ReturnType<typeof view> }> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour, reply: REPLY });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  const d = await startDaemon({
    platform: e2e.platform,
    config: { runtime_config: { command: cli, ...runtimeConfig } },
  });
  const v = view(e2e.platform, d.id);
  await d.waitForLog((l) => l.event === "runtime.ready");
  await v.waitStatus("online");
  return { d, cli, v };
}

const turns = async (cli: string) => (await readFakeAgentCalls(cli)).filter((c) => c.kind === "turn");

describe("classification through the platform's eyes (fake agent CLI)", () => {
  it("ok: the caller gets the agent's result; the platform sees the task start and end, error_rate 0", async () => {
    // Turns longer than the heartbeat's 250 ms push spacing, so the platform sees each start.
    const { d, cli, v } = await daemonWithFake("slow:600");
    const rpc = await sendMessage(d, "Summarise the repo\nwith details below");
    expect(replyText(rpc)).toBe(REPLY);
    expect(rpc.result?.kind).toBe("message");
    expect(rpc.result?.role).toBe("agent");

    // The heartbeat pushes on task start and end: the platform saw both, in order.
    const started = await v.waitBeat((b) => b.active_tasks === 1 && b.current_task === "Summarise the repo");
    await v.waitBeat((b) => b.active_tasks === 0 && b.current_task === "", started);
    const tasks = v.events("TASK_UPDATED").map((e) => e.data.active_tasks);
    expect(tasks.indexOf(1)).toBeGreaterThanOrEqual(0);
    expect(tasks.lastIndexOf(0)).toBeGreaterThan(tasks.indexOf(1));
    expect(v.workspace()?.errorRate).toBe(0);
    expect(v.workspace()?.runtimeState).toBe("");
    expect(v.status()).toBe("online");

    // The agent was driven as the issue says: stream-json, --verbose, message on stdin, in the workspace dir.
    const [call] = await turns(cli);
    expect(call?.argv.slice(0, 4)).toEqual(["-p", "--output-format", "stream-json", "--verbose"]);
    expect(call?.argv).not.toContain("--resume");
    expect(call?.stdin).toBe("Summarise the repo\nwith details below");
    expect(call?.cwd).toBe(d.workspaceDir);

    const metrics = await getJson(d, "/metrics");
    expect(metricValue(metrics.text, "molecule_turns_total", 'outcome="ok"')).toBe(1);
    expect((await getJson(d, "/readyz")).status).toBe(200);
    expect((await getJson(d, "/livez")).status).toBe(200);

    // Every beat is a full body: runtime_metadata on each (absent would clear the platform's overrides).
    expect(v.beats().every((b) => typeof b.body.runtime_metadata === "object")).toBe(true);
    // A long first line becomes a label of at most 80 characters.
    const long = `${"word ".repeat(40)}end`;
    expect(replyText(await sendMessage(d, long))).toBe(REPLY);
    await v.waitBeat((b) => String(b.current_task).startsWith("word word"));
    const longLabel = v
      .events("TASK_UPDATED")
      .map((e) => String(e.data.current_task))
      .find((l) => l.startsWith("word word"));
    expect(longLabel?.length).toBeLessThanOrEqual(80);
    expect(longLabel?.endsWith("…")).toBe(true);
  });

  it("auth: a safe error, no retry, /readyz 503 until a turn succeeds; the platform sees the failed turn", async () => {
    const { d, cli, v } = await daemonWithFake(["not-logged-in", "ok"]);
    expect((await getJson(d, "/readyz")).status).toBe(200);

    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.code).toBe(-32000);
    expect(rpc.error?.message).toBe("agent is not logged in — re-login required");
    expect(rpc.error?.data?.outcome).toBe("auth");
    expect(JSON.stringify(rpc)).not.toMatch(/Please run \/login/); // never the agent's own output
    expect(await turns(cli)).toHaveLength(1); // not retried

    const ready = await getJson<{ ready: boolean; reasons: string[] }>(d, "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.json.reasons.join("\n")).toContain("E_AGENT_AUTH_OBSERVED");
    expect((await getJson(d, "/livez")).status).toBe(200); // not a wedge

    await v.waitBeat((b) => b.error_rate === 1 && b.active_tasks === 0);
    await v.waitStatus("degraded");
    expect(v.workspace()?.runtimeState).toBe("");
    expect(v.workspace()?.sampleError).toContain("not logged in");

    // A turn that succeeds proves the agent can work again: readiness comes back.
    expect(replyText(await sendMessage(d, "again"))).toBe(REPLY);
    expect((await getJson(d, "/readyz")).status).toBe(200);
  });

  it("auth: readiness also comes back when the agent's credentials change (a re-login writes its credentials file)", async () => {
    const { d } = await daemonWithFake("not-logged-in");
    expect((await sendMessage(d, "hello")).error?.data?.outcome).toBe("auth");
    expect((await getJson(d, "/readyz")).status).toBe(503);
    await mkdir(join(d.home, ".claude"), { recursive: true });
    await writeFile(
      join(d.home, ".claude", ".credentials.json"),
      JSON.stringify({ claudeAiOauth: { accessToken: "at", refreshToken: "rt", expiresAt: Date.now() + 86_400_000 } }),
      { mode: 0o600 },
    );
    await e2e.platform.control.waitFor(async () => (await getJson(d, "/readyz")).status === 200, 10_000);
  });

  it("missing session: the id is dropped and the turn retried once without --resume; the caller sees only the fresh answer", async () => {
    const { d, cli, v } = await daemonWithFake(["ok", "missing-session"]);
    expect(replyText(await sendMessage(d, "first"))).toBe(REPLY);
    const first = (await turns(cli))[0]?.sessionId;
    expect(first).toBeTruthy();
    await plantTranscript(d, first ?? "");

    const rpc = await sendMessage(d, "second");
    expect(rpc.error).toBeUndefined();
    expect(replyText(rpc)).toBe(REPLY);
    const calls = await turns(cli);
    expect(calls.map((c) => c.resume)).toEqual([null, first, null]);
    expect(calls[2]?.stdin).toBe("second"); // the same message, fresh
    expect(calls[2]?.sessionId).not.toBe(first);

    // Zero failed turns as far as the platform can tell.
    await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
    expect(v.beats().every((b) => b.body.error_rate === 0)).toBe(true);
    expect(v.statusTrail()).not.toContain("degraded");
  });

  it("init timeout after a resume: treated as a broken session, dropped, retried fresh; never a wedge", async () => {
    const { d, cli, v } = await daemonWithFake(["ok", "init-timeout", "ok"]);
    expect(replyText(await sendMessage(d, "first"))).toBe(REPLY);
    const first = (await turns(cli))[0]?.sessionId ?? "";
    await plantTranscript(d, first);

    expect(replyText(await sendMessage(d, "second"))).toBe(REPLY);
    expect((await turns(cli)).map((c) => c.resume)).toEqual([null, first, null]);
    await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
    expect(v.beats().some((b) => b.body.runtime_state === "wedged")).toBe(false);
    expect(v.beats().every((b) => b.body.error_rate === 0)).toBe(true);
    expect(v.statusTrail()).not.toContain("degraded");
    expect((await getJson(d, "/livez")).status).toBe(200);
  });

  it("init timeout on a fresh turn: wedged (platform degraded, runtime_state wedged, /livez 503); the next ok turn clears it", async () => {
    const { d, cli, v } = await daemonWithFake(["init-timeout", "ok"]);
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.code).toBe(-32000);
    expect(rpc.error?.data?.outcome).toBe("wedged");
    expect(rpc.error?.message).toContain("claude-code init timeout — restart workspace");
    expect(await turns(cli)).toHaveLength(1); // a fresh turn is not retried

    const wedgedAt = await v.waitBeat((b) => b.runtime_state === "wedged");
    await v.waitStatus("degraded");
    expect(v.workspace()?.runtimeState).toBe("wedged");
    expect(v.workspace()?.sampleError).toContain("init timeout");
    const livez = await getJson<{ wedged: boolean; reason: string }>(d, "/livez");
    expect(livez.status).toBe(503);
    expect(livez.json).toEqual({ wedged: true, reason: "claude-code init timeout — restart workspace" });
    expect((await getJson(d, "/readyz")).status).toBe(503);
    expect(metricValue((await getJson(d, "/metrics")).text, "molecule_wedged")).toBe(1);

    // The next turn that succeeds clears the wedge: the platform sees runtime_state go empty …
    expect(replyText(await sendMessage(d, "try again"))).toBe(REPLY);
    await v.waitBeat((b) => b.runtime_state === undefined, wedgedAt);
    expect((await getJson(d, "/livez")).status).toBe(200);
    expect(v.workspace()?.runtimeState).toBe("");
    // … and goes back online once the error rate is under 0.1 (the platform's own rule:
    // one failed turn in the 60 s window needs ten good ones beside it).
    for (let i = 0; i < 9; i += 1) replyText(await sendMessage(d, `more ${i}`));
    await v.waitStatus("online");
    const trail = v.statusTrail();
    expect(trail.slice(trail.indexOf("degraded"))).toEqual(["degraded", "online"]);
  });

  it("init timeout again on the fresh retry after a resume: wedged", async () => {
    const { d, cli, v } = await daemonWithFake(["ok", "init-timeout"]);
    expect(replyText(await sendMessage(d, "first"))).toBe(REPLY);
    const first = (await turns(cli))[0]?.sessionId ?? "";
    await plantTranscript(d, first);

    const rpc = await sendMessage(d, "second");
    expect(rpc.error?.data?.outcome).toBe("wedged");
    expect((await turns(cli)).map((c) => c.resume)).toEqual([null, first, null]);
    await v.waitBeat((b) => b.runtime_state === "wedged");
    await v.waitStatus("degraded");
    expect((await getJson(d, "/livez")).status).toBe(503);
  });

  it("empty output with exit 0: agent-error, a failed turn, never a success", async () => {
    const { d, cli, v } = await daemonWithFake("empty-output-exit-0");
    const rpc = await sendMessage(d, "hello");
    expect(rpc.result).toBeUndefined();
    expect(rpc.error?.code).toBe(-32000);
    expect(rpc.error?.data?.outcome).toBe("agent-error");
    expect(rpc.error?.message).toBe("the agent failed to produce a result");
    expect(await turns(cli)).toHaveLength(1);
    await v.waitBeat((b) => b.error_rate === 1);
    await v.waitStatus("degraded");
    expect(v.workspace()?.runtimeState).toBe("");
    expect(metricValue((await getJson(d, "/metrics")).text, "molecule_turns_total", 'outcome="agent-error"')).toBe(1);
  });

  it("is_error result with exit 0 (API 500, server_error): a failed turn, retried as overload, then rate-limited", async () => {
    const { d, cli, v } = await daemonWithFake("is-error-json");
    const rpc = await sendMessage(d, "hello");
    expect(rpc.result).toBeUndefined();
    expect(rpc.error?.data?.outcome).toBe("rate-limited");
    expect(rpc.error?.message).not.toContain("Internal server error"); // the agent's text stays in the log
    expect(await turns(cli)).toHaveLength(3); // 1 + 2 retries
    await v.waitBeat((b) => b.error_rate === 1);
    await v.waitStatus("degraded");
  });

  it("no exit within runtime_config.timeout: timeout; the agent is terminated", async () => {
    const { d, cli, v } = await daemonWithFake("hang", { timeout: 1 });
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("timeout");
    expect(rpc.error?.message).toBe("the agent did not finish within 1 s");
    const [call] = await turns(cli);
    expect(call && isRunning(call.pid)).toBe(false);
    await v.waitBeat((b) => b.error_rate === 1 && b.active_tasks === 0);
    await v.waitStatus("degraded");
  });

  it("timeout with an agent that ignores SIGTERM: SIGKILL to the whole process group after the grace, no child left", async () => {
    const agent = await scriptedAgent(e2e.tmp, "stubborn", { hangIgnoringTerm: true, grandchild: true });
    onCleanup(async () =>
      killPids((await readScriptedCalls(agent)).flatMap((c) => [c.pid, ...(c.grandchild ? [c.grandchild] : [])])),
    );
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: agent, timeout: 1 } } });
    const v = view(e2e.platform, d.id);
    await v.waitStatus("online");
    const pending = sendMessage(d, "hello");
    const [call] = await waitForCalls(agent, 1);
    expect(call?.grandchild).toBeGreaterThan(0);
    expect(isRunning(call?.pid ?? 0)).toBe(true);
    expect(isRunning(call?.grandchild ?? 0)).toBe(true);

    const rpc = await pending;
    expect(rpc.error?.data?.outcome).toBe("timeout");
    // Both the agent and what it started are gone, though both ignored SIGTERM.
    expect(isRunning(call?.pid ?? 0)).toBe(false);
    expect(isRunning(call?.grandchild ?? 0)).toBe(false);
    await v.waitBeat((b) => b.error_rate === 1 && b.active_tasks === 0);
  });

  it("binary gone: crash", async () => {
    const { d, cli, v } = await daemonWithFake("ok");
    await rm(cli); // preflight saw it; now it is gone
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("crash");
    expect(rpc.error?.message).toBe("the agent process could not be started or crashed");
    expect(JSON.stringify(rpc)).not.toContain("ENOENT");
    await v.waitBeat((b) => b.error_rate === 1);
    await v.waitStatus("degraded");
    expect(metricValue((await getJson(d, "/metrics")).text, "molecule_turns_total", 'outcome="crash"')).toBe(1);
  });

  it("agent killed by a signal (SIGSEGV, half a JSON line): crash, never a success", async () => {
    const { d, cli, v } = await daemonWithFake("crash");
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("crash");
    expect(JSON.stringify(rpc)).not.toContain("Segmentation");
    expect(await turns(cli)).toHaveLength(1);
    await v.waitBeat((b) => b.error_rate === 1);
  });
});

describe("rate limits (text fallback)", () => {
  async function daemonWithScript(spec: ScriptedAgentSpec) {
    const agent = await scriptedAgent(e2e.tmp, "agent", spec);
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: agent } } });
    const v = view(e2e.platform, d.id);
    await d.waitForLog((l) => l.event === "runtime.ready");
    await v.waitStatus("online");
    return { d, v, agent };
  }

  it("a 429 on stdout is retried with backoff up to 2 times, then rate-limited", async () => {
    const { d, v, agent } = await daemonWithScript({ stdout: "API Error: 429 Too Many Requests\n", code: 1 });
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("rate-limited");
    expect(rpc.error?.message).toBe("the model API is rate-limited or overloaded; try again later");
    expect(await readScriptedCalls(agent)).toHaveLength(3);
    await v.waitBeat((b) => b.error_rate === 1);
    // Progress is logged once at INFO per turn (later notes at DEBUG, at most one a second); the turn counts them.
    // (The log is written asynchronously: wait for the turn's last line, the earlier ones came before it.)
    const finished = await d.waitForLog((l) => l.event === "turn.finished");
    expect(d.logs.filter((l) => l.event === "turn.progress").map((l) => l.note)).toEqual([
      "rate-limited, retry 1/2 in 2 s",
    ]);
    expect(finished.progressNotes).toBe(2);
  });

  it("a usage cap (hit your limit) is rate-limited at once, not retried", async () => {
    const { d, agent } = await daemonWithScript({ stderr: "You've hit your limit · resets 5pm (UTC)\n", code: 1 });
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("rate-limited");
    expect(await readScriptedCalls(agent)).toHaveLength(1);
  });

  it('"generate" is not "rate": an ordinary failure is agent-error, not retried', async () => {
    const { d, agent } = await daemonWithScript({ stderr: "could not generate a plan (exit 4290)\n", code: 1 });
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("agent-error");
    expect(await readScriptedCalls(agent)).toHaveLength(1);
  });
});

describe("replies and logs never carry the agent's raw output or secrets", () => {
  it("a failing agent's stderr with a bearer token and an API key: the caller gets a generic error, the log is redacted", async () => {
    const bearer = "abcdEFGH12345678-e2e-bearer-secret";
    const key = "sk-ant-api03-e2eSUPERSECRETkey0123456789";
    const agent = await scriptedAgent(e2e.tmp, "leaky", {
      stdout: "partial output\n",
      stderr: `request failed: Authorization: Bearer ${bearer} (key ${key})\n`,
      code: 3,
    });
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: agent } },
      env: { ANTHROPIC_API_KEY: key },
    });
    const v = view(e2e.platform, d.id);
    await d.waitForLog((l) => l.event === "runtime.ready");
    const rpc = await sendMessage(d, "hello");
    expect(rpc.error?.data?.outcome).toBe("agent-error");
    const wire = JSON.stringify(rpc);
    for (const leak of [bearer, key, "request failed", "partial output"]) expect(wire).not.toContain(leak);

    const finished = await d.waitForLog((l) => l.event === "turn.finished");
    expect(String(finished.detail)).toContain("request failed"); // the full story is in the log …
    expect(String(finished.detail)).toContain("[redacted]");
    const logText = JSON.stringify(d.logs) + d.stderr();
    expect(logText).not.toContain(bearer); // … without the secrets
    expect(logText).not.toContain(key);

    await v.waitBeat((b) => b.error_rate === 1);
    expect(v.workspace()?.sampleError).not.toContain(bearer);
    expect(v.workspace()?.sampleError).not.toContain("request failed");
  });
});

describe("the generic command executor (runtime: command)", () => {
  async function commandDaemon(spec: ScriptedAgentSpec, runtimeConfig: Record<string, unknown> = {}) {
    const agent = await scriptedAgent(e2e.tmp, "agent", spec);
    onCleanup(async () => killPids((await readScriptedCalls(agent)).map((c) => c.pid)));
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime: "command", runtime_config: { command: agent, args: ["--flag"], ...runtimeConfig } },
      env: { ANTHROPIC_API_KEY: undefined },
    });
    await d.waitForLog((l) => l.event === "runtime.ready");
    return { d, agent, v: view(e2e.platform, d.id) };
  }

  it("plain stdout with exit 0 is the answer; the message arrives on stdin with the configured args", async () => {
    const { d, agent, v } = await commandDaemon({ stdout: "a plain-text answer\n", code: 0 });
    expect(replyText(await sendMessage(d, "question"))).toBe("a plain-text answer");
    const [call] = await readScriptedCalls(agent);
    expect(call?.argv).toEqual(["--flag"]);
    expect(call?.stdin).toBe("question");
    await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
    expect(v.workspace()?.errorRate).toBe(0);
  });

  it("exit 0 with empty output is agent-error; a hang past the timeout is timeout", async () => {
    const { d, v } = await commandDaemon({ stdout: "", code: 0 });
    expect((await sendMessage(d, "question")).error?.data?.outcome).toBe("agent-error");
    await v.waitBeat((b) => b.error_rate === 1);

    const hung = await commandDaemon({ hang: true }, { timeout: 1 });
    const rpc = await sendMessage(hung.d, "question");
    expect(rpc.error?.data?.outcome).toBe("timeout");
    const [call] = await readScriptedCalls(hung.agent);
    expect(isRunning(call?.pid ?? 0)).toBe(false);
  });
});

async function waitForCalls(agent: string, n: number) {
  return e2e.platform.control.waitFor(async () => {
    const calls = await readScriptedCalls(agent);
    return calls.length >= n ? calls : undefined;
  }, 10_000);
}
