import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type StreamResponse, TaskState } from "a2a-sdk-v1";
import { ClientFactory as ClientFactoryV1 } from "a2a-sdk-v1/client";
import type { MessageSendParams } from "a2a-sdk-v03";
import { ClientFactory as ClientFactoryV03 } from "a2a-sdk-v03/client";
import { describe, expect, it } from "vitest";
import { v1SendRequest } from "./support/a2a.js";
import { type Daemon, killPids, onCleanup, replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// A client that retries a send (same messageId) after a dropped connection must not get a second
// turn: the built daemon answers the task the first send started — waiting for it while it runs,
// replaying it once it ended — with both official SDK clients (A2A v0.3 and v1.0).

const e2e = e2eSuite("molecule-e2e-idempotent-");

/**
 * An agent (`runtime: command`) that counts its runs: each run appends one line to `runs.jsonl`,
 * then waits until the file `release` exists, then answers `answer #<n>: <message>`.
 */
const AGENT = String.raw`#!/usr/bin/env node
const fs = require("node:fs");
const path = require("node:path");
const dir = path.dirname(process.argv[1]);
if (process.argv.includes("--version")) { console.log("1.0.0"); process.exit(0); }
let stdin = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => { stdin += c; });
process.stdin.on("end", () => {
  fs.appendFileSync(path.join(dir, "runs.jsonl"), JSON.stringify({ pid: process.pid, stdin }) + "\n");
  const n = fs.readFileSync(path.join(dir, "runs.jsonl"), "utf8").trim().split("\n").length;
  const answer = () => { process.stdout.write("answer #" + n + ": " + stdin + "\n"); };
  const poll = setInterval(() => {
    if (fs.existsSync(path.join(dir, "release"))) { clearInterval(poll); answer(); }
  }, 20);
});
`;

interface CountingAgent {
  d: Daemon;
  /** The messages the agent ran, oldest first. */
  runs(): Promise<string[]>;
  waitRuns(n: number): Promise<void>;
  /** Lets every waiting run (and every later one) answer. */
  release(): Promise<void>;
}

async function countingDaemon(): Promise<CountingAgent> {
  const agent = join(e2e.tmp, "agent");
  await writeFile(agent, AGENT, { mode: 0o755 });
  const runsFile = join(e2e.tmp, "runs.jsonl");
  const lines = async () =>
    existsSync(runsFile)
      ? (await readFile(runsFile, "utf8"))
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => JSON.parse(l) as { pid: number; stdin: string })
      : [];
  onCleanup(async () => killPids((await lines()).map((l) => l.pid)));
  const d = await startDaemon({
    platform: e2e.platform,
    config: { runtime: "command", runtime_config: { command: agent, timeout: 60 } },
    // The e2e daemon listens beyond loopback without a credential: deliberately (issue 21 item 1).
    env: { ANTHROPIC_API_KEY: undefined, MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1" },
  });
  await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
  return {
    d,
    runs: async () => (await lines()).map((l) => l.stdin),
    waitRuns: (n) => e2e.platform.control.waitFor(async () => (await lines()).length >= n, 20_000).then(() => {}),
    release: () => writeFile(join(e2e.tmp, "release"), ""),
  };
}

const v03Params = (messageId: string, text: string, extra: Partial<MessageSendParams> = {}): MessageSendParams => ({
  message: { kind: "message", role: "user", messageId, parts: [{ kind: "text", text }] },
  ...extra,
});

const v1Request = (messageId: string, text: string, returnImmediately = false) =>
  v1SendRequest(text, { messageId, returnImmediately });

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const events: T[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

describe("a repeated messageId runs the agent once", () => {
  it("@a2a-js/sdk 0.3.14 (v0.3): a retry while the turn runs and after it ended gets the same task and answer", async () => {
    const { d, runs, waitRuns, release } = await countingDaemon();
    const client = await new ClientFactoryV03().createFromUrl(d.base());
    const messageId = randomUUID();
    const params = v03Params(messageId, "do the thing"); // no contextId: the platform's default conversation

    const first = client.sendMessage(params);
    await waitRuns(1);
    // A non-blocking retry answers at once: the running task, not a new one queued behind it.
    const retried = await client.sendMessage({ ...params, configuration: { blocking: false } });
    expect(retried).toMatchObject({ kind: "task", id: messageId, status: { state: "working" } });
    const second = client.sendMessage(params);
    const stream = collect(client.sendMessageStream(params));
    await d.waitForLog((l) => l.event === "a2a.send_repeated" && l.taskId === messageId, 10_000);
    await release();

    const [a, b, events] = await Promise.all([first, second, stream]);
    expect(a).toMatchObject({
      kind: "message",
      taskId: messageId,
      parts: [{ kind: "text", text: "answer #1: do the thing" }],
    });
    expect(b).toEqual(a);
    expect(events.find((e) => e.kind === "artifact-update")).toMatchObject({
      taskId: messageId,
      artifact: { parts: [{ kind: "text", text: "answer #1: do the thing" }] },
    });
    expect(events.at(-1)).toMatchObject({ kind: "status-update", final: true, status: { state: "completed" } });

    // After it ended: the SDK, a replayed stream and the platform's own shape get the same answer.
    expect(await client.sendMessage(params)).toEqual(a);
    const replay = await collect(client.sendMessageStream(params));
    expect(replay.map((e) => e.kind)).toEqual(["task", "artifact-update", "status-update"]);
    const platform = await sendMessage(d, "do the thing", { messageId });
    expect(replyText(platform)).toBe("answer #1: do the thing");
    expect(await runs()).toEqual(["do the thing"]);

    // The same messageId in another conversation is another message: a new turn.
    const elsewhere = await client.sendMessage({
      ...params,
      message: { ...params.message, contextId: "ctx-other" },
    });
    expect(elsewhere).toMatchObject({ contextId: "ctx-other", parts: [{ text: "answer #2: do the thing" }] });
    expect((elsewhere as { taskId: string }).taskId).not.toBe(messageId);
    expect(await runs()).toHaveLength(2);
  }, 90_000);

  it("@a2a-js/sdk 1.3.0 (v1.0): SendMessage and SendStreamingMessage retries attach to the running task", async () => {
    const { d, runs, waitRuns, release } = await countingDaemon();
    const client = await new ClientFactoryV1().createFromUrl(d.base());
    expect(client.protocolVersion).toBe("1.0");
    const messageId = randomUUID();

    const first = client.sendMessage(v1Request(messageId, "v1 job"));
    await waitRuns(1);
    const task = await client.sendMessage(v1Request(messageId, "v1 job", true));
    if (!("status" in task)) throw new Error(`expected a task, got ${JSON.stringify(task)}`);
    expect(task.id).toBe(messageId);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const second = client.sendMessage(v1Request(messageId, "v1 job"));
    const stream = collect<StreamResponse>(client.sendMessageStream(v1Request(messageId, "v1 job")));
    await d.waitForLog((l) => l.event === "a2a.send_repeated" && l.taskId === messageId, 10_000);
    await release();

    const [a, b, events] = await Promise.all([first, second, stream]);
    const text = (reply: typeof a) =>
      "parts" in reply ? reply.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("") : "";
    expect(text(a)).toBe("answer #1: v1 job");
    expect("taskId" in a && a.taskId).toBe(messageId);
    expect(text(b)).toBe(text(a));
    expect("taskId" in b && b.taskId).toBe(messageId);
    const cases = events.map((e) => e.payload?.$case);
    expect(cases[0]).toBe("task");
    expect(cases.slice(-2)).toEqual(["artifactUpdate", "statusUpdate"]);
    const artifact = events.find((e) => e.payload?.$case === "artifactUpdate")?.payload;
    expect(JSON.stringify(artifact)).toContain("answer #1: v1 job");

    // After it ended: a send and a stream replay the same answer; still one run.
    expect(text(await client.sendMessage(v1Request(messageId, "v1 job")))).toBe("answer #1: v1 job");
    const replay = await collect<StreamResponse>(client.sendMessageStream(v1Request(messageId, "v1 job")));
    expect(replay.map((e) => e.payload?.$case)).toEqual(["task", "artifactUpdate", "statusUpdate"]);
    expect(JSON.stringify(replay)).toContain("answer #1: v1 job");
    expect(await runs()).toEqual(["v1 job"]);
  }, 90_000);
});
