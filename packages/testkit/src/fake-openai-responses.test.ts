import { afterEach, describe, expect, it } from "vitest";
import { type FakeOpenAiResponses, type ResponsesApiMode, startFakeOpenAiResponses, TestkitError } from "./index.js";

let api: FakeOpenAiResponses | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A body shaped like Codex 0.169.0's turn request (trimmed). */
const turnBody = (history: Array<{ role: string; text: string }>, stream = true) => ({
  model: "gpt-6.1-sol",
  stream,
  tool_choice: "auto",
  parallel_tool_calls: false,
  store: false,
  input: [
    { type: "additional_tools", tools: [] },
    { type: "message", role: "developer", content: [{ type: "input_text", text: "base instructions" }] },
    ...history.map(({ role, text }) => ({
      type: "message",
      role,
      content: [{ type: role === "assistant" ? "output_text" : "input_text", text }],
    })),
    { type: "configuration_update", reasoning: { effort: "low" } },
  ],
});

function post(url: string, body: unknown, signal?: AbortSignal) {
  return fetch(`${url}/responses`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      authorization: "Bearer sk-very-secret",
      "session-id": "01a23ac7-799f-7ef1-ae76-42ca9ad87d58",
    },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** parses an SSE stream into [event, data] pairs, checking each event's `type` matches its data */
function events(text: string): Array<[string, Record<string, unknown>]> {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)?.[1] ?? "";
      const data = JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? "null") as Record<string, unknown>;
      expect(data.type).toBe(event);
      return [event, data];
    });
}

async function start(mode: ResponsesApiMode = "ok", reply = "Hello from fake-openai") {
  api = await startFakeOpenAiResponses({ mode, reply });
  return api;
}

describe("startFakeOpenAiResponses", () => {
  it("spells its base URL with /v1, as Codex's provider base_url", async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it("streams the Responses SSE event sequence Codex accepts, ending in response.completed with usage", async () => {
    const { url } = await start("ok", "Hello from fake-openai");
    const res = await post(url, turnBody([{ role: "user", text: "say hi" }]));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const got = events(await res.text());
    expect(got.map(([e]) => e)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const deltas = got.filter(([e]) => e === "response.output_text.delta").map(([, d]) => d.delta);
    expect(deltas.join("")).toBe("Hello from fake-openai");
    const done = got.find(([e]) => e === "response.output_item.done")?.[1];
    expect(done?.item).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello from fake-openai" }],
    });
    const completed = got.at(-1)?.[1].response as Record<string, unknown>;
    expect(completed.status).toBe("completed");
    expect(completed.model).toBe("gpt-6.1-sol");
    expect(completed.id).toMatch(/^resp_/);
    const usage = completed.usage as Record<string, number | Record<string, number>>;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(usage.input_tokens_details).toEqual({ cached_tokens: 0 });
    expect(usage.output_tokens_details).toEqual({ reasoning_tokens: 0 });
    expect(usage.total_tokens).toBe(Number(usage.input_tokens) + Number(usage.output_tokens));
    expect(got.map(([, d]) => d.sequence_number)).toEqual(got.map((_, i) => i));
  });

  it("answers a non-streaming request with one JSON response object", async () => {
    const { url } = await start("ok", "plain");
    const res = await post(url, turnBody([{ role: "user", text: "x" }], false));
    const json = (await res.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ object: "response", status: "completed", output: [{ content: [{ text: "plain" }] }] });
  });

  it("logs every request with masked credentials and the input messages, so turn 2 shows turn 1", async () => {
    const fake = await start();
    await (await post(fake.url, turnBody([{ role: "user", text: "first prompt" }]))).text();
    await (
      await post(
        fake.url,
        turnBody([
          { role: "user", text: "first prompt" },
          { role: "assistant", text: "first reply" },
          { role: "user", text: "second prompt" },
        ]),
      )
    ).text();
    const [one, two] = fake.responses();
    expect(one?.headers.authorization).toBe("***");
    expect(JSON.stringify(fake.requests)).not.toContain("sk-very-secret");
    expect(one?.headers["session-id"]).toBe("01a23ac7-799f-7ef1-ae76-42ca9ad87d58");
    expect(one?.stream).toBe(true);
    expect(one?.status).toBe(200);
    expect(one?.mode).toBe("ok");
    expect(two?.messages.filter((m) => m.role !== "developer")).toEqual([
      { role: "user", text: "first prompt" },
      { role: "assistant", text: "first reply" },
      { role: "user", text: "second prompt" },
    ]);
  });

  it("passes the request to a reply function", async () => {
    api = await startFakeOpenAiResponses({ reply: (r) => `echo ${r.messages.at(-1)?.text}` });
    const text = await (await post(api.url, turnBody([{ role: "user", text: "ping" }]))).text();
    expect(text).toContain('"text":"echo ping"');
  });

  it("answers a tool call, then a text once the request carries the tool's output", async () => {
    api = await startFakeOpenAiResponses({
      reply: (r) =>
        r.toolOutputs.length === 0
          ? { toolCall: { type: "custom_tool_call", name: "exec", input: "text(1)", callId: "call_1" } }
          : `got ${r.toolOutputs[0]?.output}`,
    });
    const first = events(await (await post(api.url, turnBody([{ role: "user", text: "run" }]))).text());
    const done = first.filter(([type]) => type === "response.output_item.done").map(([, data]) => data.item);
    expect(done).toEqual([
      expect.objectContaining({ type: "custom_tool_call", name: "exec", input: "text(1)", call_id: "call_1" }),
    ]);
    const completed = first.at(-1)?.[1].response as { output: unknown[]; usage: { output_tokens: number } };
    expect(completed.output).toHaveLength(1);
    expect(completed.usage.output_tokens).toBeGreaterThan(0);
    // the request records the usage its answer reported
    expect(api.responses()[0]?.usage).toEqual({
      input_tokens: expect.any(Number),
      output_tokens: completed.usage.output_tokens,
    });

    const body = turnBody([{ role: "user", text: "run" }]);
    body.input.push(
      { type: "custom_tool_call", call_id: "call_1", name: "exec", input: "text(1)" } as never,
      { type: "custom_tool_call_output", call_id: "call_1", output: [{ type: "input_text", text: "1" }] } as never,
    );
    const second = await (await post(api.url, body)).text();
    expect(second).toContain('"text":"got 1"');
    expect(api.responses()[1]?.toolOutputs).toEqual([{ callId: "call_1", output: "1" }]);
  });

  it("sends a function call's arguments as a JSON string, after the text that precedes it", async () => {
    api = await startFakeOpenAiResponses({
      reply: () => ({ text: "let me look", toolCall: { name: "lookup", input: { q: "x" } } }),
    });
    const got = events(await (await post(api.url, turnBody([]))).text());
    const items = got.filter(([type]) => type === "response.output_item.done").map(([, data]) => data.item);
    expect(items).toEqual([
      expect.objectContaining({ type: "message" }),
      expect.objectContaining({
        type: "function_call",
        name: "lookup",
        arguments: '{"q":"x"}',
        call_id: expect.stringMatching(/^call_fake_/),
      }),
    ]);
  });

  it("puts a reasoning summary first, as a reasoning output item", async () => {
    api = await startFakeOpenAiResponses({ reply: () => ({ reasoning: "**Pondering**", text: "answer" }) });
    const got = events(await (await post(api.url, turnBody([]))).text());
    const items = got.filter(([type]) => type === "response.output_item.done").map(([, data]) => data);
    expect(items).toEqual([
      expect.objectContaining({
        output_index: 0,
        item: expect.objectContaining({
          type: "reasoning",
          summary: [{ type: "summary_text", text: "**Pondering**" }],
        }),
      }),
      expect.objectContaining({ output_index: 1, item: expect.objectContaining({ type: "message" }) }),
    ]);
  });

  it("answers GET /v1/models and 404s unknown routes in the OpenAI error shape", async () => {
    const { url } = await start();
    const models = (await (await fetch(`${url}/models?client_version=0.169.0`)).json()) as Record<string, unknown>;
    expect(models).toMatchObject({ object: "list", data: [{ id: "gpt-fake" }] });
    const res = await fetch(`${url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error" } });
  });

  it("401s with invalid_api_key", async () => {
    const { url } = await start("status:401");
    const res = await post(url, turnBody([{ role: "user", text: "x" }]));
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_api_key", message: /Incorrect API key/ } });
  });

  it("429s with a retry-after header when asked, and without one otherwise", async () => {
    const fake = await start("status:429:retry-after=2");
    const res = await post(fake.url, turnBody([{ role: "user", text: "x" }]));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("2");
    expect(await res.json()).toMatchObject({ error: { code: "rate_limit_exceeded" } });
    fake.setMode("status:429");
    const bare = await post(fake.url, turnBody([{ role: "user", text: "x" }]));
    expect(bare.headers.get("retry-after")).toBeNull();
    await bare.text();
  });

  it("quota is a 429 with insufficient_quota", async () => {
    const { url } = await start("quota");
    const res = await post(url, turnBody([{ role: "user", text: "x" }]));
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: { code: "insufficient_quota", type: "insufficient_quota" } });
  });

  it("500s, and fail-first fails n requests then answers", async () => {
    const fake = await start("status:500");
    expect((await post(fake.url, turnBody([]))).status).toBe(500);
    fake.setMode("fail-first:2");
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(fake.url, turnBody([]));
      await res.text();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(fake.responses().map((r) => r.mode)).toEqual(["status:500", "status:500", "status:500", "ok"]);
  });

  it("context-full streams response.failed with context_length_exceeded", async () => {
    const { url } = await start("context-full");
    const got = events(await (await post(url, turnBody([]))).text());
    expect(got.map(([e]) => e)).toEqual(["response.created", "response.failed"]);
    expect(got[1]?.[1].response).toMatchObject({ status: "failed", error: { code: "context_length_exceeded" } });
  });

  it("empty completes with no output item", async () => {
    const { url } = await start("empty");
    const got = events(await (await post(url, turnBody([]))).text());
    expect(got.map(([e]) => e)).toEqual(["response.created", "response.in_progress", "response.completed"]);
    expect(got[2]?.[1].response).toMatchObject({ status: "completed", output: [] });
  });

  it("hang sends no headers until close; the log shows the request still pending", async () => {
    const fake = await start("hang");
    const pending = post(fake.url, turnBody([])).then(
      () => "answered",
      () => "failed",
    );
    await expect.poll(() => fake.responses().length).toBe(1);
    expect(fake.responses()[0]?.status).toBe(0);
    await fake.close();
    expect(await pending).toBe("failed");
  });

  it("stall-after-start sends response.created and response.in_progress, then nothing", async () => {
    const fake = await start("stall-after-start");
    const res = await post(fake.url, turnBody([]));
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let text = "";
    while (!text.includes("response.in_progress")) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    expect(events(text).map(([e]) => e)).toEqual(["response.created", "response.in_progress"]);
    const more = reader?.read().then(
      (c) => (c.done ? "ended" : "more"),
      () => "failed",
    );
    await fake.close();
    expect(await more).not.toBe("more");
  });

  it("drop resets the connection", async () => {
    const { url } = await start("drop");
    await expect(post(url, turnBody([]))).rejects.toThrow();
  });

  it("rejects an unknown mode with E_TESTKIT_BAD_OPTION", async () => {
    await expect(startFakeOpenAiResponses({ mode: "nope" as ResponsesApiMode })).rejects.toSatisfy(
      (e: unknown) => TestkitError.isInstance(e) && e.code === "E_TESTKIT_BAD_OPTION",
    );
  });
});
