import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatCompletionsMode, type FakeChatCompletions, startFakeChatCompletions } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TurnRequest } from "../executor.js";
import { classifyStatus, createSseReader } from "./chat-completions.js";
import { trimHistory } from "./chat-history.js";
import { createOllamaExecutor, type OllamaExecutorOptions } from "./ollama.js";

// The endpoint executor against the testkit's fake OpenAI-compatible endpoint (a real loopback server).

let api: FakeChatCompletions | undefined;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-ollama-"));
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(mode: ChatCompletionsMode = "ok") {
  api = await startFakeChatCompletions({
    mode,
    reply: (r) => `answer to ${r.messages.at(-1)?.content} (${r.messages.length} messages)`,
  });
  return api;
}

function executor(extra: Partial<OllamaExecutorOptions> = {}) {
  return createOllamaExecutor({
    baseUrl: api?.url ?? "http://127.0.0.1:9/v1",
    model: "llama-fake",
    historyDir: join(dir, "conversations"),
    systemPrompt: "You are terse.",
    env: {},
    timeoutMs: 5_000,
    rateLimitBackoffMs: 1,
    progressIntervalMs: 0,
    ...extra,
  });
}

function turn(text: string, contextId = "ctx-a", signal = new AbortController().signal) {
  const notes: string[] = [];
  const request: TurnRequest = { taskId: `t-${text}`, text, signal, contextId, progress: (n) => notes.push(n) };
  return { request, notes };
}

describe("ollama executor", () => {
  it("streams the answer as progress, sends the system prompt, and keeps each context's history on disk", async () => {
    const fake = await start();
    const first = turn("one");
    expect(await executor().runTurn(first.request)).toEqual({
      outcome: "ok",
      text: "answer to one (2 messages)",
      // the model as the (fake) server's response names it
      usage: { input_tokens: expect.any(Number), output_tokens: 7, model: "llama-fake" },
    });
    expect(first.notes.join("")).toBe("answer to one (2 messages)");
    // a new executor (a restart) reads the history back
    expect(await executor().runTurn(turn("two").request)).toMatchObject({ text: "answer to two (4 messages)" });
    expect(fake.completions()[1]?.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(fake.completions()[1]?.messages[0]?.content).toBe("You are terse.");
    // another context does not see the first one's text
    await executor().runTurn(turn("elsewhere", "ctx-b").request);
    expect(JSON.stringify(fake.completions()[2]?.messages)).not.toContain("one");
    const files = await readdir(join(dir, "conversations"));
    expect(files).toHaveLength(2);
    const stored = JSON.parse(await readFile(join(dir, "conversations", files[0] ?? ""), "utf8")) as object;
    expect(stored).toHaveProperty("version", 1);
    expect(fake.completions().every((r) => r.stream && r.model === "llama-fake" && !r.bearer)).toBe(true);
  });

  it("keeps at most max_history_messages, oldest dropped first; OPENAI_API_KEY goes as Bearer", async () => {
    const fake = await start();
    const ex = executor({ maxHistoryMessages: 4, env: { OPENAI_API_KEY: "sk-gw" } });
    for (const text of ["a", "b", "c", "d"]) await ex.runTurn(turn(text).request);
    const last = fake.completions().at(-1);
    expect(last?.messages.map((m) => m.content.split(" (")[0])).toEqual([
      "You are terse.",
      "b",
      "answer to b",
      "c",
      "answer to c",
      "d",
    ]);
    expect(last?.bearer).toBe(true);
    expect(
      trimHistory(
        [
          { role: "assistant", content: "x" },
          { role: "user", content: "y" },
        ],
        5,
      ),
    ).toEqual([{ role: "user", content: "y" }]);
  });

  it("keeps at most maxConversations conversations, the least recently written forgotten", async () => {
    const fake = await start();
    const ex = executor({ maxConversations: 2 });
    for (const ctx of ["c1", "c2", "c3"]) await ex.runTurn(turn(`hello ${ctx}`, ctx).request);
    expect(await readdir(join(dir, "conversations"))).toHaveLength(2);
    await ex.runTurn(turn("again", "c1").request); // c1 was forgotten: it starts anew
    expect(
      fake
        .completions()
        .at(-1)
        ?.messages.map((m) => m.role),
    ).toEqual(["system", "user"]);
    await ex.runTurn(turn("again", "c3").request); // c3 was kept
    expect(
      fake
        .completions()
        .at(-1)
        ?.messages.map((m) => m.role),
    ).toEqual(["system", "user", "assistant", "user"]);
  });

  it.each([
    ["model-not-found", "agent-error", "ollama pull llama-fake"],
    ["status:401", "auth", "OPENAI_API_KEY"],
    ["status:429:retry-after=0", "rate-limited", undefined],
    ["status:503", "rate-limited", undefined],
    ["empty", "agent-error", "the model answered nothing"],
    ["drop", "agent-error", "stopped mid-answer"],
    ["status:400", "agent-error", "refused the request"],
  ] as const)("%s → %s, and a failed turn leaves the history as it was", async (mode, outcome, error) => {
    const fake = await start(mode);
    const reply = await executor().runTurn(turn("q").request);
    expect(reply.outcome).toBe(outcome);
    if (error) expect(reply.error).toContain(error);
    if (outcome === "rate-limited") expect(fake.completions()).toHaveLength(3); // two retries
    await expect(readdir(join(dir, "conversations"))).rejects.toThrow(); // nothing written
  });

  it("a retried 5xx that then answers is ok (fail-first)", async () => {
    const fake = await start("fail-first:1:500");
    const t = turn("q");
    expect(await executor().runTurn(t.request)).toMatchObject({ outcome: "ok" });
    expect(fake.completions()).toHaveLength(2);
    expect(t.notes[0]).toMatch(/retry 1\/2/);
  });

  it("a stream cut mid-answer and a silent server end at the turn timeout; cancel ends the request", async () => {
    await start("stall-after-start");
    expect(await executor({ timeoutMs: 300 }).runTurn(turn("q").request)).toEqual({ outcome: "timeout" });
    api?.setMode("hang");
    const controller = new AbortController();
    const pending = executor().runTurn(turn("q", "ctx-a", controller.signal).request);
    setTimeout(() => controller.abort(), 100);
    expect(await pending).toEqual({ outcome: "cancelled" });
  });

  it("a refused connection is a crash naming base_url", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const port = typeof address === "object" && address ? address.port : 0;
    const reply = await executor({ baseUrl: `http://127.0.0.1:${port}/v1` }).runTurn(turn("q").request);
    expect(reply.outcome).toBe("crash");
    expect(reply.error).toContain("runtime_config.base_url");
    expect(reply.detail).toContain("ECONNREFUSED");
  });
});

describe("chat-completions reading", () => {
  it("reads SSE across chunk boundaries, with usage under the other agents' names", () => {
    const pieces: string[] = [];
    const reader = createSseReader((p) => pieces.push(p));
    reader.push('data: {"choices":[{"delta":{"content":"Hel');
    reader.push('lo"}}]}\n\ndata: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n');
    reader.push(
      'data: {"choices":[],"model":"qwen3:4b","usage":{"prompt_tokens":7,"completion_tokens":2}}\n\ndata: [DONE]\n\n',
    );
    reader.end();
    expect(reader.result()).toEqual({
      text: "Hello",
      usage: { input_tokens: 7, output_tokens: 2, model: "qwen3:4b" },
      complete: true,
    });
    expect(pieces).toEqual(["Hello"]);
  });

  it("classifies Ollama's and OpenAI's error bodies", () => {
    expect(classifyStatus(404, '{"error":"model \\"qwen3\\" not found, try pulling it first"}').kind).toBe(
      "model-missing",
    );
    expect(classifyStatus(404, '{"error":{"message":"no route"}}').kind).toBe("bad-request");
    // the same message wrapped in OpenAI's error shape (an OpenAI-compatible /v1 layer)
    expect(
      classifyStatus(
        404,
        '{"error":{"message":"model \\"qwen3\\" not found, try pulling it first","type":"api_error"}}',
      ).kind,
    ).toBe("model-missing");
    expect(classifyStatus(429, "", 3000)).toEqual({ kind: "rate-limited", detail: "HTTP 429", retryAfterMs: 3000 });
    expect(classifyStatus(502, "Bad Gateway").kind).toBe("server-error");
    expect(classifyStatus(403, "{}").kind).toBe("auth");
  });
});
