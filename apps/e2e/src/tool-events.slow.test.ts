import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type FakeModelApi, lastToolResult, type ModelApiRequest, startFakeModelApi } from "@molecule/testkit";
import { TaskState } from "a2a-sdk-v1";
import { ClientFactory as ClientFactoryV1 } from "a2a-sdk-v1/client";
import { ClientFactory as ClientFactoryV03 } from "a2a-sdk-v03/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerLastMarker, marker, turnRequests, v1SendRequest } from "./support/a2a.js";
import { type Daemon, getJson, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// What the agent did and what it cost, through the official A2A SDK clients (0.3.x and 1.x) against
// the built daemon driving the real Claude Code CLI, offline against the fake model API: the model
// reads a workspace file with `Read` (a read-only tool: no permission needed) and answers with it.

const e2e = e2eSuite("molecule-e2e-tools-");
const TURN_TIMEOUT = 180_000;
/** The daemon's model API key: the file the tool reads holds it too, and no event may show it. */
const API_KEY = `sk-ant-api03-${randomUUID()}`;
const FILE = "release-notes.txt";
const TOOL_TURN = /\[\[TOOL-[A-Za-z0-9-]+\]\]/;
const ASK_TURN = /\[\[ASK-[A-Za-z0-9-]+\]\]/;
const THINK_TURN = /\[\[THINK-[A-Za-z0-9-]+\]\]/;
const THOUGHT = "the notes are in the workspace; a shell would be quickest";

let api: FakeModelApi;
let workspaceDir = "";

/** A marked TOOL turn: read the file (when the agent offers Read), then answer with what it said. */
function reply(request: ModelApiRequest) {
  const result = lastToolResult(request.body);
  if (result !== undefined) return `the file says: ${result.trim()}`;
  const body = JSON.stringify(request.body);
  if (TOOL_TURN.test(body) && body.includes('"name":"Read"')) {
    return { toolUse: { name: "Read", input: { file_path: join(workspaceDir, FILE) } } };
  }
  // A command headless Claude Code may not run without --allowedTools: it is auto-denied.
  if (ASK_TURN.test(body) && body.includes('"name":"Bash"')) {
    return { thinking: THOUGHT, toolUse: { name: "Bash", input: { command: `node -e "console.log(6*7)"` } } };
  }
  if (THINK_TURN.test(body)) return { thinking: THOUGHT, text: answerLastMarker(request) };
  return answerLastMarker(request);
}

beforeAll(async () => {
  api = await startFakeModelApi({ reply });
});
afterAll(() => api.close());

async function start(a2a: Record<string, unknown> = {}): Promise<Daemon> {
  const d = await startDaemon({
    platform: e2e.platform,
    config: { runtime_config: { timeout: 90 }, a2a },
    env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: API_KEY },
  });
  await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
  workspaceDir = d.workspaceDir;
  await writeFile(join(workspaceDir, FILE), `version 2 ships on Friday\nkey: ${API_KEY}\n`);
  return d;
}

/** The usage the fake reported over a turn's model requests, as the daemon must label it. */
function expectedUsage(requests: readonly ModelApiRequest[]) {
  const sum = (key: "input_tokens" | "output_tokens") => requests.reduce((n, r) => n + (r.usage?.[key] ?? 0), 0);
  return {
    input_tokens: sum("input_tokens"),
    output_tokens: sum("output_tokens"),
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    cost_usd: expect.any(Number),
    model: expect.stringMatching(/^claude-/),
    source: "agent-estimate",
  };
}

/** The sum of a metric's samples whose labels include `label` (`kind="input"`), whatever the others. */
function metricSum(text: string, name: string, label = ""): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (label && !line.slice(0, line.lastIndexOf(" ")).includes(label)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** /metrics counts the turn's tokens and cost, by kind, model and outcome. */
async function expectCounted(d: Daemon, usage: { input_tokens: number; output_tokens: number; cost_usd: number }) {
  const metrics = (await getJson(d, "/metrics")).text;
  expect(metricSum(metrics, "molecule_tokens_total", 'kind="input"')).toBe(usage.input_tokens);
  expect(metricSum(metrics, "molecule_tokens_total", 'kind="output"')).toBe(usage.output_tokens);
  expect(metrics).toMatch(
    /molecule_tokens_total\{[^}]*model="claude-[^"]*"[^}]*outcome="ok"|outcome="ok"[^}]*model="claude-/,
  );
  expect(metricSum(metrics, "molecule_cost_usd_total")).toBeCloseTo(usage.cost_usd, 6);
}

describe("@a2a-js/sdk 0.3.14 (A2A v0.3): a turn that calls a tool", () => {
  it(
    "streams the tool call and its result (masked), then the answer with the fake's usage; /metrics counts it",
    async () => {
      const d = await start();
      const client = await new ClientFactoryV03().createFromUrl(d.base());
      const events: Array<Record<string, unknown>> = [];
      const stream = client.sendMessageStream({
        message: {
          kind: "message",
          role: "user",
          messageId: randomUUID(),
          parts: [{ kind: "text", text: `${marker("TOOL-V03")} what do the release notes say?` }],
        },
      });
      for await (const event of stream) events.push(event as unknown as Record<string, unknown>);

      const activities = events.filter(
        (e) => e.kind === "status-update" && typeof (e.metadata as { kind?: unknown } | undefined)?.kind === "string",
      );
      expect(activities).toMatchObject([
        {
          final: false,
          status: {
            state: "working",
            message: { parts: [{ kind: "data", data: { kind: "tool_call", tool: "Read" } }] },
          },
          metadata: { kind: "tool_call", tool: "Read" },
        },
        {
          final: false,
          status: {
            state: "working",
            message: { parts: [{ kind: "data", data: { kind: "tool_result", tool: "Read" } }] },
          },
          metadata: { kind: "tool_result", tool: "Read" },
        },
      ]);
      const data = activities.map(
        (e) =>
          (e.status as { message: { parts: Array<{ data: { id: string; summary: string } }> } }).message.parts[0]?.data,
      );
      expect(data[0]?.summary).toContain(join(workspaceDir, FILE));
      expect(data[1]?.summary).toContain("version 2 ships on Friday");
      expect(data[1]?.summary).toContain("key: [redacted]");
      expect(data[0]?.id).toBe(data[1]?.id);
      expect(JSON.stringify(events)).not.toContain(API_KEY);

      const sequences = events.map((e) => (e.metadata as { sequence?: number } | undefined)?.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => (a ?? 0) - (b ?? 0)));
      const usage = expectedUsage(turnRequests(api, "TOOL-V03"));
      expect(turnRequests(api, "TOOL-V03")).toHaveLength(2);
      expect(events.find((e) => e.kind === "artifact-update")).toMatchObject({
        artifact: { parts: [{ kind: "text", text: expect.stringContaining("version 2 ships on Friday") }] },
      });
      const end = events.at(-1) as { taskId: string; metadata: { usage: { cost_usd: number } } };
      expect(end).toMatchObject({
        kind: "status-update",
        final: true,
        status: { state: "completed" },
        metadata: { usage },
      });
      expect(end.metadata.usage.cost_usd).toBeGreaterThan(0);
      expect(await client.getTask({ id: end.taskId })).toMatchObject({
        status: { state: "completed" },
        metadata: { usage },
      });
      await expectCounted(d, { ...usage, cost_usd: end.metadata.usage.cost_usd });
    },
    TURN_TIMEOUT,
  );
});

const v1Request = (text: string) => v1SendRequest(text);

describe("@a2a-js/sdk 1.3.0 (A2A v1.0): a turn that calls a tool", () => {
  it(
    "streams the tool call and its result (masked), then the answer with the fake's usage; /metrics counts it",
    async () => {
      const d = await start();
      const client = await new ClientFactoryV1().createFromUrl(d.base());
      expect(client.protocolVersion).toBe("1.0");
      const updates: Array<{ state: string; metadata: Record<string, unknown>; data?: Record<string, unknown> }> = [];
      let taskId = "";
      const seen: string[] = [];
      for await (const event of client.sendMessageStream(v1Request(`${marker("TOOL-V1")} read the notes`))) {
        seen.push(JSON.stringify(event));
        const payload = event.payload;
        if (payload?.$case === "task") taskId = payload.value.id;
        if (payload?.$case !== "statusUpdate") continue;
        const part = payload.value.status?.message?.parts[0]?.content;
        updates.push({
          state: TaskState[payload.value.status?.state ?? 0] ?? "",
          metadata: (payload.value.metadata ?? {}) as Record<string, unknown>,
          ...(part?.$case === "data" ? { data: part.value as Record<string, unknown> } : {}),
        });
      }
      const activities = updates.filter((u) => typeof u.metadata.kind === "string");
      expect(activities).toMatchObject([
        { state: "TASK_STATE_WORKING", metadata: { kind: "tool_call", tool: "Read" }, data: { kind: "tool_call" } },
        { state: "TASK_STATE_WORKING", metadata: { kind: "tool_result", tool: "Read" }, data: { kind: "tool_result" } },
      ]);
      expect(String(activities[0]?.data?.summary)).toContain(join(workspaceDir, FILE));
      expect(String(activities[1]?.data?.summary)).toContain("version 2 ships on Friday\n2\tkey: [redacted]");
      expect(seen.join("\n")).not.toContain(API_KEY);

      const usage = expectedUsage(turnRequests(api, "TOOL-V1"));
      const end = updates.at(-1);
      expect(end).toMatchObject({ state: "TASK_STATE_COMPLETED", metadata: { usage } });
      const got = await client.getTask({ tenant: "", id: taskId, historyLength: undefined });
      expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(got.metadata).toMatchObject({ usage });
      const cost = Number((end?.metadata.usage as { cost_usd?: number } | undefined)?.cost_usd);
      expect(cost).toBeGreaterThan(0);
      await expectCounted(d, { ...usage, cost_usd: cost });
    },
    TURN_TIMEOUT,
  );
});

describe("a turn that stops to ask, and the model's thinking", () => {
  it(
    "a tool that needs permission: the turn fails at once with an error naming it (both versions); no thinking streamed by default",
    async () => {
      const d = await start();
      const v03 = await new ClientFactoryV03().createFromUrl(d.base());
      const events: Array<Record<string, unknown>> = [];
      const started = Date.now();
      for await (const event of v03.sendMessageStream({
        message: {
          kind: "message",
          role: "user",
          messageId: randomUUID(),
          parts: [{ kind: "text", text: `${marker("ASK-1")} run the numbers` }],
        },
      })) {
        events.push(event as unknown as Record<string, unknown>);
      }
      expect(Date.now() - started).toBeLessThan(60_000);
      const error =
        'the agent stopped to ask for permission to use Bash; a headless turn cannot answer — allow the tool (runtime_config.args: ["--allowedTools=Bash"]) or rephrase the task';
      const kinds = events.map((e) => (e.metadata as { kind?: string } | undefined)?.kind).filter(Boolean);
      expect(kinds).toEqual(["tool_call", "tool_result"]); // no "thinking": a2a.stream_thinking is false
      expect(JSON.stringify(events)).not.toContain(THOUGHT);
      expect(events.find((e) => (e.metadata as { kind?: string } | undefined)?.kind === "tool_result")).toMatchObject({
        status: { message: { parts: [{ kind: "data", data: { tool: "Bash", error: true } }] } },
      });
      const end = events.at(-1) as { taskId: string };
      expect(end).toMatchObject({
        kind: "status-update",
        final: true,
        status: { state: "failed", message: { parts: [{ kind: "text", text: error }] } },
      });
      expect(await v03.getTask({ id: end.taskId })).toMatchObject({
        status: { state: "failed", message: { parts: [{ kind: "text", text: error }] } },
      });
      const v1 = await new ClientFactoryV1().createFromUrl(d.base());
      const got = await v1.getTask({ tenant: "", id: end.taskId, historyLength: undefined });
      expect(got.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(got.status?.message?.parts.map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("")).toBe(
        error,
      );
      const metrics = (await getJson(d, "/metrics")).text;
      expect(metricSum(metrics, "molecule_turns_total", 'outcome="agent-error"')).toBe(1);
      expect(metricSum(metrics, "molecule_tokens_total", 'outcome="agent-error"')).toBeGreaterThan(0);
    },
    TURN_TIMEOUT,
  );

  it(
    "with a2a.stream_thinking: true the model's thinking streams as a thinking event before the answer",
    async () => {
      const d = await start({ stream_thinking: true });
      const client = await new ClientFactoryV1().createFromUrl(d.base());
      const updates: Array<{ metadata: Record<string, unknown>; data?: Record<string, unknown> }> = [];
      for await (const event of client.sendMessageStream(v1Request(`${marker("THINK-1")} think first`))) {
        const payload = event.payload;
        if (payload?.$case !== "statusUpdate") continue;
        const part = payload.value.status?.message?.parts[0]?.content;
        updates.push({
          metadata: (payload.value.metadata ?? {}) as Record<string, unknown>,
          ...(part?.$case === "data" ? { data: part.value as Record<string, unknown> } : {}),
        });
      }
      expect(updates.filter((u) => typeof u.metadata.kind === "string")).toEqual([
        { metadata: expect.objectContaining({ kind: "thinking" }), data: { kind: "thinking", summary: THOUGHT } },
      ]);
    },
    TURN_TIMEOUT,
  );
});
