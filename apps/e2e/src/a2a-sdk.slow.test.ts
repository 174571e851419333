import { randomUUID } from "node:crypto";
import { type FakeModelApi, startFakeModelApi } from "@molecule/testkit";
import { Role, TaskState } from "a2a-sdk-v1";
import { ClientFactory as ClientFactoryV1 } from "a2a-sdk-v1/client";
import type { MessageSendParams } from "a2a-sdk-v03";
import { ClientFactory as ClientFactoryV03 } from "a2a-sdk-v03/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerLastMarker, answerTo, marker, startClaudeDaemon, turnRequests, v1SendRequest } from "./support/a2a.js";
import { getJson, postRaw, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// The official A2A JavaScript SDK clients — not our code — as callers of the built daemon, which
// drives the real Claude Code CLI against the fake model API. 0.3.x speaks A2A v0.3, 1.x speaks v1.0.

const e2e = e2eSuite("molecule-e2e-sdk-");
const TURN_TIMEOUT = 180_000;

let api: FakeModelApi;
beforeAll(async () => {
  api = await startFakeModelApi({ reply: answerLastMarker });
});
afterAll(() => api.close());

const v03Params = (text: string, extra: Partial<MessageSendParams> = {}, contextId?: string): MessageSendParams => ({
  message: {
    kind: "message",
    role: "user",
    messageId: randomUUID(),
    ...(contextId ? { contextId } : {}),
    parts: [{ kind: "text", text }],
  },
  ...extra,
});

const v1Request = v1SendRequest;

/** Waits until the daemon's turn for `name` has its model request in flight (the API hangs). */
const inFlight = (name: string) => e2e.platform.control.waitFor(() => turnRequests(api, name).length > 0, 60_000);

describe("@a2a-js/sdk 0.3.14 (A2A v0.3) as the caller", () => {
  it(
    "discovers the daemon from its URL, sends, streams (with progress), gets and cancels",
    async () => {
      const d = await startClaudeDaemon(e2e.platform, api);
      const client = await new ClientFactoryV03().createFromUrl(d.base());

      const reply = await client.sendMessage(v03Params(`${marker("V03-1")} hello`));
      expect(reply).toMatchObject({
        kind: "message",
        role: "agent",
        parts: [{ kind: "text", text: answerTo("V03-1") }],
      });
      const { taskId, contextId } = reply as { taskId: string; contextId: string };
      expect(contextId).toEqual(expect.any(String));
      expect(await client.getTask({ id: taskId })).toMatchObject({
        kind: "task",
        id: taskId,
        contextId,
        status: { state: "completed" },
        artifacts: [{ parts: [{ kind: "text", text: answerTo("V03-1") }] }],
      });

      // Streaming: the model API fails once, the CLI retries — a progress status update.
      api.setMode("fail-first:1:529");
      const events: Array<Record<string, unknown>> = [];
      for await (const event of client.sendMessageStream(v03Params(`${marker("V03-2")} stream`, {}, contextId))) {
        events.push(event as unknown as Record<string, unknown>);
      }
      api.setMode("ok");
      expect(events[0]).toMatchObject({ kind: "task", contextId, status: { state: "working" } });
      expect(events.some((e) => e.kind === "status-update" && e.final === false)).toBe(true);
      expect(JSON.stringify(events)).toContain("model API retry");
      expect(events.find((e) => e.kind === "artifact-update")).toMatchObject({
        artifact: { parts: [{ kind: "text", text: answerTo("V03-2") }] },
      });
      expect(events.at(-1)).toMatchObject({ kind: "status-update", final: true, status: { state: "completed" } });

      // Cancel: a non-blocking send answers the task at once; cancel stops the running turn.
      api.setMode("hang");
      const task = await client.sendMessage(
        v03Params(`${marker("V03-3")} never ends`, { configuration: { blocking: false } }, "ctx-cancel"),
      );
      expect(task).toMatchObject({ kind: "task", contextId: "ctx-cancel" });
      const id = (task as { id: string }).id;
      await inFlight("V03-3");
      expect(await client.cancelTask({ id })).toMatchObject({ id, status: { state: "canceled" } });
      api.setMode("ok");
      expect(await client.getTask({ id })).toMatchObject({ status: { state: "canceled" } });
      await expect(client.cancelTask({ id })).rejects.toThrow(/-32002|cannot be canceled/i);
      await expect(client.getTask({ id: "no-such-task" })).rejects.toThrow(/-32001|not found/i);
    },
    TURN_TIMEOUT,
  );
});

describe("@a2a-js/sdk 1.3.0 (A2A v1.0) as the caller", () => {
  it(
    "discovers the daemon from its URL, sends, streams, gets and cancels; a client that goes away cancels nothing",
    async () => {
      const d = await startClaudeDaemon(e2e.platform, api);
      const client = await new ClientFactoryV1().createFromUrl(d.base());
      expect(client.protocolVersion).toBe("1.0");

      const reply = await client.sendMessage(v1Request(`${marker("V1-1")} hello`, { contextId: "ctx-v1" }));
      if (!("role" in reply)) throw new Error(`expected a message, got ${JSON.stringify(reply)}`);
      expect(reply.role).toBe(Role.ROLE_AGENT);
      expect(reply.contextId).toBe("ctx-v1");
      expect(reply.parts.map((p) => (p.content?.$case === "text" ? p.content.value : ""))).toEqual([answerTo("V1-1")]);
      const got = await client.getTask({ tenant: "", id: reply.taskId, historyLength: undefined });
      expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(got.history.map((m) => m.role)).toEqual([Role.ROLE_USER, Role.ROLE_AGENT]);

      // Streaming, in the same conversation: the model sees the first turn.
      const cases: string[] = [];
      for await (const event of client.sendMessageStream(
        v1Request(`${marker("V1-2")} stream`, { contextId: "ctx-v1" }),
      )) {
        cases.push(
          event.payload?.$case === "statusUpdate"
            ? `status ${TaskState[event.payload.value.status?.state ?? 0]}`
            : String(event.payload?.$case),
        );
      }
      expect(cases[0]).toBe("task");
      expect(cases.slice(-2)).toEqual(["artifactUpdate", "status TASK_STATE_COMPLETED"]);
      expect(JSON.stringify(turnRequests(api, "V1-2").at(-1)?.body)).toContain(marker("V1-1"));

      // A stream whose client goes away after the first event: the turn still completes.
      const gone = new AbortController();
      let streamedTaskId = "";
      await expect(
        (async () => {
          for await (const event of client.sendMessageStream(v1Request(`${marker("V1-3")} and go`), {
            signal: gone.signal,
          })) {
            if (event.payload?.$case === "task") streamedTaskId = event.payload.value.id;
            gone.abort();
          }
        })(),
      ).rejects.toThrow();
      expect(streamedTaskId).not.toBe("");
      await e2e.platform.control.waitFor(
        async () =>
          (await client.getTask({ tenant: "", id: streamedTaskId, historyLength: undefined })).status?.state ===
          TaskState.TASK_STATE_COMPLETED,
        60_000,
      );

      // Cancel.
      api.setMode("hang");
      const task = await client.sendMessage(
        v1Request(`${marker("V1-4")} never ends`, { contextId: "ctx-v1-cancel", returnImmediately: true }),
      );
      if (!("status" in task)) throw new Error(`expected a task, got ${JSON.stringify(task)}`);
      await inFlight("V1-4");
      const cancelled = await client.cancelTask({ tenant: "", id: task.id, metadata: undefined });
      api.setMode("ok");
      expect(cancelled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    },
    TURN_TIMEOUT,
  );
});

describe("the agent card and a2a.streaming", () => {
  it("is valid for both versions; streaming false turns the stream methods off; push notifications are never claimed", async () => {
    const d = await startDaemon({
      platform: e2e.platform,
      config: { a2a: { streaming: false, push_notifications: true } },
    });
    const card = await getJson<Record<string, unknown>>(d, "/.well-known/agent-card.json");
    expect(card.json).toMatchObject({
      protocolVersion: "0.3.0",
      preferredTransport: "JSONRPC",
      url: `http://localhost:${d.port()}`,
      supportedInterfaces: [
        { url: `http://localhost:${d.port()}`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
        { url: `http://localhost:${d.port()}`, protocolBinding: "JSONRPC", protocolVersion: "0.3.0" },
      ],
      capabilities: { streaming: false, pushNotifications: false },
    });
    expect((await getJson(d, "/.well-known/agent.json")).json).toEqual(card.json);
    // preflight warned about the push_notifications it does not implement
    expect(d.logs.some((l) => l.event === "preflight.warning" && String(l.msg).includes("push"))).toBe(true);

    for (const method of ["message/stream", "SendStreamingMessage"]) {
      const res = await postRaw(
        d,
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method,
          params: { message: { parts: [{ kind: "text", text: "hi" }] } },
        }),
      );
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.json.error?.code).toBe(-32004);
    }
    const client = await new ClientFactoryV1().createFromUrl(d.base());
    expect((await client.getAgentCard()).capabilities?.streaming).toBe(false);
  });
});
