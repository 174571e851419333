import { isRunning } from "@molecule/test-support";
import { type FakeAgentBehaviour, fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import {
  admin,
  type Daemon,
  getJson,
  killPids,
  onCleanup,
  postRaw,
  replyText,
  sendMessage,
  startDaemon,
} from "./support/daemon.js";
import { view } from "./support/platform-view.js";
import { e2eSuite } from "./support/suite.js";

const e2e = e2eSuite("molecule-e2e-rpc-");

async function daemon(
  behaviour: FakeAgentBehaviour | FakeAgentBehaviour[] = "ok",
  config: Record<string, unknown> = {},
): Promise<{ d: Daemon; cli: string }> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour, reply: "pong" });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli }, ...config } });
  await d.waitForLog((l) => l.event === "runtime.ready");
  return { d, cli };
}

const turnCalls = async (cli: string) => (await readFakeAgentCalls(cli)).filter((c) => c.kind === "turn");

describe("A2A JSON-RPC", () => {
  it("answers message/send and SendMessage with an A2A message of text parts; serves the agent card on both routes", async () => {
    const { d } = await daemon();
    const v0_3 = await sendMessage(d, "ping");
    expect(v0_3.result).toMatchObject({ kind: "message", role: "agent", parts: [{ kind: "text", text: "pong" }] });
    // Every reply names its task and its context (the workspace's default one: no contextId was sent).
    const named = v0_3.result as { taskId?: string; contextId?: string };
    expect(named.taskId).toEqual(expect.any(String));
    expect(named.contextId).toEqual(expect.any(String));
    // A v1.0 SendMessage gets the v1.0 answer: `{ message }`, parts `{ text }`, the same default context.
    expect((await sendMessage(d, "ping", { method: "SendMessage" })).result).toMatchObject({
      message: { role: "ROLE_AGENT", contextId: named.contextId, parts: [{ text: "pong" }] },
    });
    for (const path of ["/.well-known/agent-card.json", "/.well-known/agent.json"]) {
      const card = await getJson<{ name: string; url: string }>(d, path);
      expect(card.status).toBe(200);
      expect(card.json.name).toBe("e2e-worker");
      expect(card.json.url).toBe(`http://localhost:${d.port()}`);
    }
    // The platform was told the same URL.
    expect(e2e.platform.control.registrations(d.id)[0]?.body).toMatchObject({ url: `http://localhost:${d.port()}` });
  });

  it("refuses a body over 1 MiB with 413 and keeps serving", async () => {
    const { d, cli } = await daemon();
    const text = "x".repeat(1024 * 1024 + 1);
    const big = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "message/send",
      params: { message: { role: "user", messageId: "m", parts: [{ kind: "text", text }] } },
    });
    const res = await postRaw(d, big);
    expect(res.status).toBe(413);
    expect(res.json.error?.message).toMatch(/larger than 1048576 bytes/);
    expect(await turnCalls(cli)).toHaveLength(0);
    expect(replyText(await sendMessage(d, "still there?"))).toBe("pong");
  });

  it("answers invalid JSON-RPC with -32700 / -32600 / -32601 / -32602 and a safe message", async () => {
    const { d, cli } = await daemon();
    const cases: Array<[string, number]> = [
      ["{not json", -32700],
      ["[1,2,3]", -32600],
      [JSON.stringify({ jsonrpc: "1.0", id: 1, method: "message/send" }), -32600],
      [JSON.stringify({ jsonrpc: "2.0", id: 2 }), -32600],
      [JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tasks/subscribe", params: {} }), -32601],
      [JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tasks/resubscribe", params: {} }), -32602],
      [JSON.stringify({ jsonrpc: "2.0", id: 4, method: "message/send", params: {} }), -32602],
      [JSON.stringify({ jsonrpc: "2.0", id: 5, method: "message/send", params: { message: { parts: [] } } }), -32602],
      [
        JSON.stringify({
          jsonrpc: "2.0",
          id: 6,
          method: "message/send",
          params: { message: { parts: [{ kind: "file", file: { uri: "file:///etc/passwd" } }] } },
        }),
        -32602,
      ],
    ];
    for (const [body, code] of cases) {
      const res = await postRaw(d, body);
      expect(res.status, body).toBe(200);
      expect(res.json.jsonrpc).toBe("2.0");
      expect(res.json.error?.code, body).toBe(code);
      expect(res.json.error?.message, body).not.toMatch(/at .*\.js:\d+|SyntaxError|ZodError/);
    }
    // The id is echoed when there is one.
    expect((await postRaw(d, JSON.stringify({ jsonrpc: "2.0", id: 42, method: "nope" }))).json.id).toBe(42);
    expect(await turnCalls(cli)).toHaveLength(0);
    // Callers' mistakes are not the workspace's failures: error_rate stays 0.
    const v = view(e2e.platform, d.id);
    await v.waitBeat(() => true, v.beats().length);
    expect(v.workspace()?.errorRate).toBe(0);
  });

  it("busy FIFO overflow: with one turn running and a queue of one, the third message gets -32010", async () => {
    // The first turn is long enough for the second to be seen queued; the second is quick.
    const { d, cli } = await daemon(["slow:4000", "ok"], { max_concurrent_tasks: 1, queue_size: 1 });
    const v = view(e2e.platform, d.id);
    const first = sendMessage(d, "first");
    await e2e.platform.control.waitFor(async () => (await turnCalls(cli)).length === 1, 10_000);
    const second = sendMessage(d, "second");
    await e2e.platform.control.waitFor(
      async () => (await admin<{ queuedTasks: number }>(d, "GET", "/status")).json.queuedTasks === 1,
    );

    const third = await sendMessage(d, "third");
    expect(third.error?.code).toBe(-32010);
    expect(third.error?.data).toMatchObject({ busy: true, outcome: "busy" });
    expect(third.error?.data?.retry_after).toBeGreaterThan(0);

    // The first two are answered in order; the third never reached the agent.
    expect(replyText(await first)).toBe("pong");
    expect(replyText(await second)).toBe("pong");
    expect((await turnCalls(cli)).map((c) => c.stdin)).toEqual(["first", "second"]);
    // Busy is the platform's cue to queue and retry, not a failure of the workspace.
    await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
    expect(v.beats().every((b) => b.body.error_rate === 0)).toBe(true);
    expect(v.statusTrail()).not.toContain("degraded");
  });

  it("tasks/cancel cancels the running turn (outcome cancelled) and kills the agent", async () => {
    const { d, cli } = await daemon("slow:60000");
    const pending = sendMessage(d, "long", { messageId: "task-to-cancel" });
    await e2e.platform.control.waitFor(async () => (await turnCalls(cli)).length === 1, 10_000);
    const cancel = await postRaw(
      d,
      JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tasks/cancel", params: { id: "task-to-cancel" } }),
    );
    expect(cancel.json.result).toMatchObject({ id: "task-to-cancel", status: { state: "canceled" } });
    const answer = await pending;
    expect(answer.error?.data?.outcome).toBe("cancelled");
    const [call] = await turnCalls(cli);
    expect(isRunning(call?.pid ?? 0)).toBe(false);
    const unknown = await postRaw(
      d,
      JSON.stringify({ jsonrpc: "2.0", id: 10, method: "tasks/cancel", params: { id: "no-such-task" } }),
    );
    expect(unknown.json.error?.code).toBe(-32001);
  });
});
