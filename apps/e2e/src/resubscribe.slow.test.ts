import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type FakeModelApi,
  type FakeModelReply,
  lastToolResult,
  type ModelApiBarrier,
  type ModelApiRequest,
  startFakeModelApi,
} from "@molecule/testkit";
import { type StreamResponse, TaskState } from "a2a-sdk-v1";
import { ClientFactory as ClientFactoryV1 } from "a2a-sdk-v1/client";
import type { MessageSendParams } from "a2a-sdk-v03";
import { ClientFactory as ClientFactoryV03 } from "a2a-sdk-v03/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerLastMarker, answerTo, marker, startClaudeDaemon, v1SendRequest } from "./support/a2a.js";
import { type Daemon, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// A2A tasks that outlive a connection and a restart (issue 22), with the official SDK clients
// (0.3.x speaks A2A v0.3, 1.x speaks v1.0) against the built daemon driving the real Claude Code
// CLI, which talks to the fake model API: a stream cut mid-turn, then `tasks/resubscribe` /
// `SubscribeToTask`, gets the rest and the answer with no `metadata.sequence` seen twice; a daemon
// killed mid-turn and restarted answers the task as failed, interrupted.

const e2e = e2eSuite("molecule-e2e-resubscribe-");
const TURN_TIMEOUT = 240_000;

/** The workspace of the daemon under test: the files the fake model has the agent read are there. */
let workspace = "";

/**
 * The fake model: a turn whose marker starts with `RS-` reads one.txt, then two.txt (the `Read`
 * tool: Claude Code runs it without asking), then answers; every other turn answers its marker.
 */
function reply(request: ModelApiRequest): FakeModelReply {
  const answer = answerLastMarker(request);
  if (!answer.startsWith(answerTo("RS-"))) return answer;
  const result = lastToolResult(request.body);
  if (result === undefined) return { toolUse: { name: "Read", input: { file_path: join(workspace, "one.txt") } } };
  if (result.includes("step one"))
    return { toolUse: { name: "Read", input: { file_path: join(workspace, "two.txt") } } };
  return answer;
}

let api: FakeModelApi;
beforeAll(async () => {
  api = await startFakeModelApi({ reply });
});
afterAll(() => api.close());

async function claudeDaemon(restartOf?: Daemon): Promise<Daemon> {
  const d = await startClaudeDaemon(e2e.platform, api, restartOf ? { restartOf } : {});
  workspace = d.workspaceDir;
  await writeFile(join(workspace, "one.txt"), "step one\n");
  await writeFile(join(workspace, "two.txt"), "step two\n");
  return d;
}

/**
 * Holds the turn's last model request (the one after the second tool ran) until `release()`: the
 * turn is then mid-way, with tool events behind it and its answer ahead.
 */
function holdLastRequest(name: string): ModelApiBarrier {
  return api.barrier({
    count: 2, // never reached: only one such request comes; release() answers it
    timeoutMs: 120_000,
    match: (r) => answerLastMarker(r) === answerTo(name) && (lastToolResult(r.body) ?? "").includes("step two"),
  });
}

/** Holds every model request of the turn `name` until `release()`. */
const holdTurn = (name: string) =>
  api.barrier({ count: 2, timeoutMs: 120_000, match: (r) => answerLastMarker(r) === answerTo(name) });

const arrived = (barrier: ModelApiBarrier) => e2e.platform.control.waitFor(() => barrier.arrived >= 1, 90_000);

/** Strictly increasing: none seen twice, none out of order. */
function expectIncreasing(sequences: unknown[]) {
  expect(sequences.every((s) => typeof s === "number")).toBe(true);
  const numbers = sequences as number[];
  expect(numbers).toEqual([...new Set(numbers)].sort((a, b) => a - b));
}

const v03Params = (text: string, extra: Partial<MessageSendParams> = {}): MessageSendParams => ({
  message: { kind: "message", role: "user", messageId: randomUUID(), parts: [{ kind: "text", text }] },
  ...extra,
});

const v1Request = (text: string) => v1SendRequest(text);

type V03Event = Record<string, unknown> & { kind?: string; metadata?: Record<string, unknown> };

describe("a stream cut mid-turn, then resubscribe", () => {
  it(
    "@a2a-js/sdk 0.3.14: tasks/resubscribe gives the snapshot, the rest and the answer; no sequence twice",
    async () => {
      const d = await claudeDaemon();
      const client = await new ClientFactoryV03().createFromUrl(d.base());
      const held = holdLastRequest("RS-03");
      const cut = new AbortController();
      const first: V03Event[] = [];
      await expect(
        (async () => {
          for await (const event of client.sendMessageStream(v03Params(`${marker("RS-03")} read both files`), {
            signal: cut.signal,
          })) {
            first.push(event as unknown as V03Event);
            if (event.kind === "status-update" && event.metadata?.kind === "tool_call") cut.abort();
          }
        })(),
      ).rejects.toThrow();
      expect(first[0]).toMatchObject({ kind: "task", status: { state: "working" } });
      expect(first.at(-1)).toMatchObject({ kind: "status-update", metadata: { kind: "tool_call", tool: "Read" } });
      const taskId = String(first[0]?.id);
      await arrived(held);

      const second: V03Event[] = [];
      for await (const event of client.resubscribeTask({ id: taskId })) {
        second.push(event as unknown as V03Event);
        if (second.length === 1) held.release();
      }
      // The snapshot: the task now, after the events the first stream missed (the second Read).
      expect(second[0]).toMatchObject({ kind: "task", id: taskId, status: { state: "working" } });
      expect(second.at(-2)).toMatchObject({
        kind: "artifact-update",
        artifact: { parts: [{ kind: "text", text: answerTo("RS-03") }] },
      });
      expect(second.at(-1)).toMatchObject({
        kind: "status-update",
        final: true,
        status: { state: "completed" },
        metadata: { usage: { input_tokens: expect.any(Number), output_tokens: expect.any(Number) } },
      });
      expectIncreasing([...first, ...second].map((e) => e.metadata?.sequence));
      expect(await client.getTask({ id: taskId })).toMatchObject({ status: { state: "completed" } });
    },
    TURN_TIMEOUT,
  );

  it(
    "@a2a-js/sdk 1.3.0: SubscribeToTask gives the snapshot, the rest and the answer; no sequence twice",
    async () => {
      const d = await claudeDaemon();
      const client = await new ClientFactoryV1().createFromUrl(d.base());
      const held = holdLastRequest("RS-V1");
      const cut = new AbortController();
      const first: StreamResponse[] = [];
      await expect(
        (async () => {
          for await (const event of client.sendMessageStream(v1Request(`${marker("RS-V1")} read both files`), {
            signal: cut.signal,
          })) {
            first.push(event);
            if (event.payload?.$case === "statusUpdate" && event.payload.value.metadata?.kind === "tool_call") {
              cut.abort();
            }
          }
        })(),
      ).rejects.toThrow();
      const start = first[0]?.payload;
      if (start?.$case !== "task") throw new Error(`expected the task first, got ${JSON.stringify(first[0])}`);
      expect(start.value.status?.state).toBe(TaskState.TASK_STATE_WORKING);
      const taskId = start.value.id;
      await arrived(held);

      const second: StreamResponse[] = [];
      for await (const event of client.resubscribeTask({ tenant: "", id: taskId })) {
        second.push(event);
        if (second.length === 1) held.release();
      }
      const snapshot = second[0]?.payload;
      if (snapshot?.$case !== "task") throw new Error(`expected the snapshot first, got ${JSON.stringify(second[0])}`);
      expect(snapshot.value.id).toBe(taskId);
      expect(snapshot.value.status?.state).toBe(TaskState.TASK_STATE_WORKING);
      const artifact = second.at(-2)?.payload;
      if (artifact?.$case !== "artifactUpdate") throw new Error("expected the answer's artifact before the end");
      expect(artifact.value.artifact?.parts.map((p) => (p.content?.$case === "text" ? p.content.value : ""))).toEqual([
        answerTo("RS-V1"),
      ]);
      const end = second.at(-1)?.payload;
      if (end?.$case !== "statusUpdate") throw new Error("expected the final status last");
      expect(end.value.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(end.value.metadata?.usage).toMatchObject({ input_tokens: expect.any(Number), source: "agent-estimate" });
      expectIncreasing([...first, ...second].map((e) => e.payload?.value.metadata?.sequence));
    },
    TURN_TIMEOUT,
  );
});

describe("a daemon killed mid-turn and restarted on the same state dir", () => {
  it(
    "tasks/get and GetTask answer the task: failed, interrupted: the workspace restarted; resubscribe gives it and ends",
    async () => {
      const a = await claudeDaemon();
      const v03 = await new ClientFactoryV03().createFromUrl(a.base());
      const held = holdTurn("KILL-1");
      const sent = await v03.sendMessage(
        v03Params(`${marker("KILL-1")} never answered`, { configuration: { blocking: false } }),
      );
      expect(sent).toMatchObject({ kind: "task" });
      const taskId = (sent as { id: string }).id;
      await arrived(held); // the turn is working: its model request is held
      a.child.kill("SIGKILL");
      await a.exited;
      held.release();

      const b = await claudeDaemon(a);
      const v03b = await new ClientFactoryV03().createFromUrl(b.base());
      const got = await v03b.getTask({ id: taskId });
      expect(got).toMatchObject({
        kind: "task",
        id: taskId,
        status: {
          state: "failed",
          message: { parts: [{ kind: "text", text: "interrupted: the workspace restarted" }] },
        },
        metadata: { outcome: "interrupted" },
      });
      const v1 = await new ClientFactoryV1().createFromUrl(b.base());
      const task = await v1.getTask({ tenant: "", id: taskId, historyLength: undefined });
      expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(task.status?.message?.parts.map((p) => (p.content?.$case === "text" ? p.content.value : ""))).toEqual([
        "interrupted: the workspace restarted",
      ]);
      expect(task.metadata).toMatchObject({ outcome: "interrupted" });

      // An ended task: its snapshot and the end at once, in both versions.
      const snapshots: unknown[] = [];
      for await (const event of v03b.resubscribeTask({ id: taskId })) snapshots.push(event);
      expect(snapshots).toEqual([
        expect.objectContaining({ kind: "task", id: taskId, status: expect.objectContaining({ state: "failed" }) }),
      ]);
      const v1Snapshots: StreamResponse[] = [];
      for await (const event of v1.resubscribeTask({ tenant: "", id: taskId })) v1Snapshots.push(event);
      expect(v1Snapshots.map((e) => e.payload?.$case)).toEqual(["task"]);
      expect(v1Snapshots[0]?.payload?.value.metadata).toMatchObject({ outcome: "interrupted" });
      await expect(v1.resubscribeTask({ tenant: "", id: "no-such-task" }).next()).rejects.toThrow(/not found/i);
    },
    TURN_TIMEOUT,
  );
});

describe("with a2a.auth: bearer, across a restart", () => {
  const tokenA = `a2a-token-a-${randomUUID()}`;
  const tokenB = `a2a-token-b-${randomUUID()}`;

  async function bearerDaemon(restartOf?: Daemon): Promise<Daemon> {
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { timeout: 90 }, a2a: { auth: "bearer", auth_token_file: "a2a-tokens" } },
      env: {
        ANTHROPIC_BASE_URL: api.url,
        ANTHROPIC_API_KEY: "test-key",
        MOLECULE_A2A_ALLOW_UNAUTHENTICATED: undefined,
      },
      beforeStart: ({ root }) => writeFile(join(root, "configs", "a2a-tokens"), `${tokenA}\n${tokenB}\n`),
      ...(restartOf ? { restartOf } : {}),
    });
    await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
    return d;
  }

  /** One JSON-RPC call with `Authorization: Bearer <token>`. */
  async function call(d: Daemon, token: string, method: string, params: unknown) {
    const res = await fetch(d.base(), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    return (await res.json()) as { result?: Record<string, unknown>; error?: { code: number } };
  }

  it(
    "a restored task is still its creator's alone: get and resubscribe with another token are not found",
    async () => {
      const a = await bearerDaemon();
      const held = holdTurn("KILL-2");
      const sent = await call(a, tokenA, "message/send", {
        message: { messageId: randomUUID(), parts: [{ kind: "text", text: `${marker("KILL-2")} cut off` }] },
        configuration: { blocking: false },
      });
      const taskId = String(sent.result?.id);
      await arrived(held);
      a.child.kill("SIGKILL");
      await a.exited;
      held.release();

      const b = await bearerDaemon(a);
      expect((await call(b, tokenA, "GetTask", { id: taskId })).result).toMatchObject({
        id: taskId,
        status: { state: "TASK_STATE_FAILED" },
        metadata: { outcome: "interrupted" },
      });
      for (const method of ["tasks/get", "GetTask", "tasks/resubscribe", "SubscribeToTask"]) {
        expect((await call(b, tokenB, method, { id: taskId })).error?.code, method).toBe(-32001);
      }
      const own = await fetch(b.base(), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tokenA}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "SubscribeToTask", params: { id: taskId } }),
      });
      expect(own.headers.get("content-type")).toBe("text/event-stream");
      expect(await own.text()).toContain("TASK_STATE_FAILED");
    },
    TURN_TIMEOUT,
  );
});
