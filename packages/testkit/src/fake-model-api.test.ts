import { afterEach, describe, expect, it, vi } from "vitest";
import { type FakeModelApi, lastToolResult, type ModelApiMode, startFakeModelApi, TestkitError } from "./index.js";

let api: FakeModelApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const messagesBody = (stream: boolean) => ({
  model: "claude-test",
  max_tokens: 100,
  stream,
  messages: [
    { role: "system", content: "be brief" },
    { role: "user", content: [{ type: "text", text: "hi" }] },
  ],
});

function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-very-secret", ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** parses an SSE stream into [event, data] pairs */
function events(text: string): Array<[string, Record<string, unknown>]> {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)?.[1] ?? "";
      const data = JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? "null") as Record<string, unknown>;
      return [event, data];
    });
}

async function start(mode: ModelApiMode = "ok", reply = "hello world") {
  api = await startFakeModelApi({ mode, reply });
  return api;
}

describe("startFakeModelApi", () => {
  it("a reply with thinking streams a thinking block (thinking and signature deltas) before the text", async () => {
    api = await startFakeModelApi({ reply: { thinking: "hmm, let me see", text: "the answer" } });
    const got = events(await (await post(api.url, messagesBody(true))).text());
    const deltas = got.filter(([e]) => e === "content_block_delta").map(([, d]) => d.delta);
    expect(got.find(([e]) => e === "content_block_start")?.[1]).toMatchObject({
      index: 0,
      content_block: { type: "thinking" },
    });
    expect(deltas).toEqual([
      { type: "thinking_delta", thinking: "hmm, let" },
      { type: "thinking_delta", thinking: " me see" },
      { type: "signature_delta", signature: expect.any(String) },
      { type: "text_delta", text: "the a" },
      { type: "text_delta", text: "nswer" },
    ]);
    const json = (await (await post(api.url, messagesBody(false))).json()) as { content: unknown; stop_reason: string };
    expect(json.content).toEqual([
      { type: "thinking", thinking: "hmm, let me see", signature: expect.any(String) },
      { type: "text", text: "the answer" },
    ]);
    expect(json.stop_reason).toBe("end_turn");
  });

  it("records the usage each answer reported (streamed: the message_delta's output tokens); none for an error", async () => {
    const { url } = await start("ok", "hello world");
    const streamed = events(await (await post(url, messagesBody(true))).text());
    const json = (await (await post(url, messagesBody(false))).json()) as { usage: unknown };
    api?.setMode("status:529");
    await post(url, messagesBody(false));
    const [first, second, third] = api?.messages() ?? [];
    const delta = streamed.find(([e]) => e === "message_delta")?.[1];
    expect(first?.usage).toMatchObject({ output_tokens: (delta?.usage as { output_tokens?: number })?.output_tokens });
    expect(first?.usage?.output_tokens).toBeGreaterThan(0);
    expect(first?.usage?.input_tokens).toBeGreaterThan(0);
    expect(second?.usage).toEqual(json.usage);
    expect(third?.usage).toBeUndefined();
  });

  it("answers HEAD / with 200", async () => {
    const { url } = await start();
    expect((await fetch(url, { method: "HEAD" })).status).toBe(200);
  });

  it("streams the Anthropic SSE event sequence with the reply", async () => {
    const { url } = await start("ok", "hello world");
    const res = await post(url, messagesBody(true));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const got = events(await res.text());
    expect(got.map(([e]) => e)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    for (const [event, data] of got) expect(data.type).toBe(event);
    const text = got
      .filter(([e]) => e === "content_block_delta")
      .map(([, d]) => (d.delta as { type: string; text: string }).text)
      .join("");
    expect(text).toBe("hello world");
    expect(got[0]?.[1]).toMatchObject({ message: { role: "assistant", model: "claude-test", content: [] } });
    expect(got[6]?.[1]).toMatchObject({ delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } });
  });

  it("answers one JSON message when not streaming", async () => {
    const { url } = await start("ok", "plain");
    const res = await post(url, messagesBody(false));
    expect(await res.json()).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "plain" }],
      stop_reason: "end_turn",
      usage: { output_tokens: 2 },
    });
  });

  it("answers count_tokens and 404s unknown paths with an Anthropic error body", async () => {
    const { url } = await start();
    const count = await fetch(`${url}/v1/messages/count_tokens`, {
      method: "POST",
      body: JSON.stringify(messagesBody(false)),
    });
    expect(((await count.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
    const missing = await fetch(`${url}/v1/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  it("records every request with secrets masked and the body parsed", async () => {
    const server = await start();
    await post(server.url, messagesBody(true), { authorization: "Bearer oauth-secret" });
    const [rec] = server.messages();
    expect(rec).toMatchObject({ method: "POST", path: "/v1/messages", query: "?beta=true", stream: true, status: 200 });
    expect(rec?.headers["x-api-key"]).toBe("***");
    expect(rec?.headers.authorization).toBe("***");
    expect(rec?.body).toEqual(messagesBody(true));
    expect(JSON.stringify(server.requests)).not.toMatch(/very-secret|oauth-secret/);
  });

  it("status:<code> answers Anthropic error JSON, with retry-after when asked", async () => {
    const server = await start("status:401");
    const unauthorized = await post(server.url, messagesBody(true));
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const expected: Array<[ModelApiMode, number, string]> = [
      ["status:403", 403, "permission_error"],
      ["status:500", 500, "api_error"],
      ["status:529", 529, "overloaded_error"],
    ];
    for (const [mode, status, type] of expected) {
      server.setMode(mode);
      const res = await post(server.url, messagesBody(true));
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error: { type } });
    }
    server.setMode("status:429:retry-after=7");
    const limited = await post(server.url, messagesBody(true));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toMatchObject({ error: { type: "rate_limit_error" } });
  });

  it("fail-first:<n>[:<code>] fails n times then answers ok; setMode restarts the count", async () => {
    const server = await start("fail-first:2");
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await post(server.url, messagesBody(false))).status);
    expect(statuses).toEqual([529, 529, 200]);
    server.setMode("fail-first:1:500");
    expect((await post(server.url, messagesBody(false))).status).toBe(500);
    expect((await post(server.url, messagesBody(false))).status).toBe(200);
    expect(server.messages().map((r) => r.mode)).toEqual(["status:529", "status:529", "ok", "status:500", "ok"]);
  });

  it("hang never answers; drop resets the connection", async () => {
    const server = await start("hang");
    await expect(post(server.url, messagesBody(true), {}, AbortSignal.timeout(200))).rejects.toThrow();
    server.setMode("drop");
    const dropped = await post(server.url, messagesBody(true)).catch((e: unknown) => e);
    expect(dropped).toBeInstanceOf(Error);
  });

  it("stall-after-start sends the start of a stream, then nothing", async () => {
    const server = await start("stall-after-start");
    const res = await post(server.url, messagesBody(true));
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let text = "";
    while (reader && !text.includes("content_block_start")) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    expect(events(text).map(([e]) => e)).toEqual(["message_start", "content_block_start"]);
    const next = await Promise.race([
      reader?.read().then(() => "more"),
      new Promise((resolve) => setTimeout(() => resolve("stalled"), 200)),
    ]);
    expect(next).toBe("stalled");
  });

  it("`empty` answers 200 with an empty text; a bare `fail-first:1` fails with 529 once, then ok", async () => {
    const { url } = await start("empty", "never sent");
    const body = (await (await post(url, messagesBody(false))).json()) as { content: Array<{ text?: string }> };
    expect(body.content.map((b) => b.text ?? "").join("")).toBe("");
    api?.setMode("fail-first:1");
    expect((await post(url, messagesBody(false))).status).toBe(529);
    expect((await post(url, messagesBody(false))).status).toBe(200);
    expect(api?.messages().map((m) => m.mode)).toEqual(["empty", "status:529", "ok"]);
  });

  it("refuses unknown modes", async () => {
    await expect(startFakeModelApi({ mode: "explode" as ModelApiMode })).rejects.toSatisfy(
      (e: unknown) => TestkitError.isInstance(e) && e.code === "E_TESTKIT_BAD_OPTION",
    );
  });

  it("a tool call streams a tool_use block with input_json_delta pieces and stop_reason tool_use", async () => {
    api = await startFakeModelApi({
      reply: { text: "let me look", toolUse: { id: "toolu_1", name: "Bash", input: { command: "id -u" } } },
    });
    const got = events(await (await post(api.url, messagesBody(true))).text());
    expect(got.map(([e]) => e)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(got[6]?.[1]).toEqual({
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "toolu_1", name: "Bash", input: {} },
    });
    const json = got
      .filter(([e, d]) => e === "content_block_delta" && d.index === 1)
      .map(([, d]) => (d.delta as { type: string; partial_json: string }).partial_json)
      .join("");
    expect(JSON.parse(json)).toEqual({ command: "id -u" });
    expect(got[10]?.[1]).toMatchObject({ delta: { stop_reason: "tool_use" } });
  });

  it("a tool call as one JSON message, and lastToolResult reads the agent's next request", async () => {
    api = await startFakeModelApi({
      reply: (request) => {
        const result = lastToolResult(request.body);
        return result === undefined
          ? { toolUse: { name: "Bash", input: { command: "echo hi" } } }
          : `the tool said ${result}`;
      },
    });
    const first = (await (await post(api.url, messagesBody(false))).json()) as Record<string, unknown>;
    expect(first).toMatchObject({ stop_reason: "tool_use", content: [{ type: "tool_use", name: "Bash" }] });
    const toolId = (first.content as Array<{ id: string }>)[0]?.id;
    expect(toolId).toMatch(/^toolu_fake_/);
    const followUp = {
      ...messagesBody(false),
      messages: [
        { role: "user", content: [{ type: "text", text: "hi" }] },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: toolId, content: [{ type: "text", text: "hi\n" }] }],
        },
      ],
    };
    const second = (await (await post(api.url, followUp)).json()) as Record<string, unknown>;
    expect(second).toMatchObject({ stop_reason: "end_turn", content: [{ type: "text", text: "the tool said hi\n" }] });
    expect(lastToolResult({ messages: [{ role: "user", content: [{ type: "tool_result", content: "plain" }] }] })).toBe(
      "plain",
    );
    expect(lastToolResult(messagesBody(false))).toBeUndefined();
    expect(lastToolResult(null)).toBeUndefined();
  });
});

describe("barrier", () => {
  it("holds matching requests until count have arrived, then answers them all; others pass", async () => {
    api = await startFakeModelApi({ reply: "pong" });
    const url = api.url;
    const barrier = api.barrier({ count: 2, match: (r) => JSON.stringify(r.body).includes("held") });
    const heldBody = { ...messagesBody(false), messages: [{ role: "user", content: "held" }] };
    let firstAnswered = false;
    const first = post(url, heldBody).then((res) => {
      firstAnswered = true;
      return res;
    });
    await vi.waitFor(() => expect(barrier.arrived).toBe(1));
    const other = await post(url, messagesBody(false)); // not matching: answered at once
    expect(other.status).toBe(200);
    expect(firstAnswered).toBe(false);
    const second = post(url, heldBody);
    expect(await barrier.met).toBe(true);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(barrier.arrived).toBe(2);
    expect((await post(url, heldBody)).status).toBe(200); // a met barrier holds nothing more
  });

  it("times out (met false) and answers what it held; a bad count is refused", async () => {
    api = await startFakeModelApi({ reply: "pong" });
    const barrier = api.barrier({ count: 3, timeoutMs: 50 });
    const held = post(api.url, messagesBody(false));
    expect(await barrier.met).toBe(false);
    expect((await held).status).toBe(200);
    expect(() => api?.barrier({ count: 0 })).toThrow(TestkitError);
  });
});
