import { afterEach, describe, expect, it } from "vitest";
import { type FakeGeminiApi, type GeminiApiMode, startFakeGeminiApi, TestkitError } from "./index.js";

let api: FakeGeminiApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A body shaped like Gemini CLI 0.61.0's turn request (trimmed). */
const turnBody = (history: Array<{ role: string; text: string }>) => ({
  contents: history.map(({ role, text }) => ({ role, parts: [{ text }] })),
  systemInstruction: { role: "user", parts: [{ text: "You are Gemini CLI" }] },
  tools: [{ functionDeclarations: [{ name: "read_file" }] }],
  generationConfig: { temperature: 1, topP: 0.95, topK: 64, thinkingConfig: { includeThoughts: true } },
});

/** The model router's classifier request. */
const routerBody = {
  contents: [{ role: "user", parts: [{ text: "say hi" }] }],
  systemInstruction: { role: "user", parts: [{ text: "You are a specialized Task Routing AI" }] },
  generationConfig: {
    responseMimeType: "application/json",
    responseJsonSchema: {
      type: "object",
      properties: {
        complexity_reasoning: { type: "string" },
        complexity_score: { type: "integer" },
        role: { type: "string", enum: ["model", "user"] },
      },
      required: ["complexity_reasoning", "complexity_score"],
    },
  },
};

function post(url: string, model: string, rpc: string, body: unknown, query = "") {
  return fetch(`${url}/v1beta/models/${model}:${rpc}${query}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "very-secret-key" },
    body: JSON.stringify(body),
  });
}

const stream = (url: string, body: unknown) => post(url, "gemini-2.5-flash", "streamGenerateContent", body, "?alt=sse");

/** parses Gemini's SSE (`data: <json>\r\n\r\n`) into the chunks */
function chunks(text: string): Array<Record<string, unknown>> {
  expect(text).not.toMatch(/^event:/m);
  return text
    .split("\r\n\r\n")
    .filter((block) => block.trim() !== "")
    .map((block) => JSON.parse(/^data: (.+)$/m.exec(block)?.[1] ?? "null") as Record<string, unknown>);
}

const textOf = (chunk: Record<string, unknown> | undefined): string =>
  ((chunk?.candidates as Array<{ content: { parts: Array<{ text: string }> } }>)?.[0]?.content.parts ?? [])
    .map((p) => p.text)
    .join("");

async function start(mode: GeminiApiMode = "ok", reply = "Hello from fake-gemini") {
  api = await startFakeGeminiApi({ mode, reply });
  return api;
}

describe("startFakeGeminiApi", () => {
  it("spells its base URL as the host root, as GOOGLE_GEMINI_BASE_URL", async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("streams SSE chunks whose last carries finishReason STOP and usageMetadata", async () => {
    const { url } = await start("ok", "Hello from fake-gemini");
    const res = await stream(url, turnBody([{ role: "user", text: "say hi" }]));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const got = chunks(await res.text());
    expect(got.length).toBe(2);
    expect(got.map(textOf).join("")).toBe("Hello from fake-gemini");
    expect(got[0]?.candidates).toEqual([{ content: { role: "model", parts: [{ text: "Hello from " }] }, index: 0 }]);
    expect(got[0]?.usageMetadata).toBeUndefined();
    const last = got.at(-1);
    expect(last?.candidates).toMatchObject([{ finishReason: "STOP", index: 0 }]);
    expect(last?.modelVersion).toBe("gemini-2.5-flash");
    const usage = last?.usageMetadata as Record<string, number>;
    expect(usage.promptTokenCount).toBeGreaterThan(0);
    expect(usage.candidatesTokenCount).toBeGreaterThan(0);
    expect(usage.totalTokenCount).toBe(Number(usage.promptTokenCount) + Number(usage.candidatesTokenCount));
  });

  it("answers streamGenerateContent without alt=sse as a JSON array of the chunks", async () => {
    const { url } = await start("ok", "abcd");
    const res = await post(url, "gemini-2.5-flash", "streamGenerateContent", turnBody([{ role: "user", text: "x" }]));
    const got = (await res.json()) as Array<Record<string, unknown>>;
    expect(got.map(textOf)).toEqual(["ab", "cd"]);
  });

  it("answers generateContent with one response, and the router's JSON request with JSON matching its schema", async () => {
    const { url } = await start("ok", "plain text");
    const plain = (await (
      await post(url, "gemini-2.5-flash", "generateContent", turnBody([{ role: "user", text: "x" }]))
    ).json()) as Record<string, unknown>;
    expect(textOf(plain)).toBe("plain text");
    expect(plain.usageMetadata).toMatchObject({ promptTokenCount: expect.any(Number) });
    const routed = (await (await post(url, "gemini-3.5-flash-lite", "generateContent", routerBody)).json()) as Record<
      string,
      unknown
    >;
    expect(JSON.parse(textOf(routed))).toEqual({ complexity_reasoning: "fake", complexity_score: 10, role: "user" });
  });

  it("counts tokens, and answers the models list", async () => {
    const { url } = await start();
    const res = await post(url, "gemini-2.5-flash", "countTokens", turnBody([{ role: "user", text: "count me" }]));
    expect(await res.json()).toEqual({ totalTokens: expect.any(Number) });
    const models = (await (await fetch(`${url}/v1beta/models`)).json()) as { models: Array<{ name: string }> };
    expect(models.models[0]?.name).toBe("models/gemini-2.5-flash");
    expect((await fetch(`${url}/v1beta/nope`)).status).toBe(404);
  });

  it("logs requests with the model, rpc, masked key and contents, so a resumed turn shows turn 1", async () => {
    const fake = await start();
    await (await stream(fake.url, turnBody([{ role: "user", text: "say hi" }]))).text();
    await (
      await stream(
        fake.url,
        turnBody([
          { role: "user", text: "say hi" },
          { role: "model", text: "Hello from fake-gemini" },
          { role: "user", text: "second prompt" },
        ]),
      )
    ).text();
    await (await post(fake.url, "gemini-2.5-flash", "countTokens", turnBody([]))).text();
    expect(fake.requests.length).toBe(3);
    expect(fake.generations().length).toBe(2);
    const [one, two] = fake.generations();
    expect(one).toMatchObject({
      model: "gemini-2.5-flash",
      rpc: "streamGenerateContent",
      stream: true,
      query: "?alt=sse",
    });
    expect(one?.headers["x-goog-api-key"]).toBe("***");
    expect(JSON.stringify(fake.requests)).not.toContain("very-secret-key");
    expect(one?.status).toBe(200);
    expect(two?.messages).toEqual([
      { role: "user", text: "say hi" },
      { role: "model", text: "Hello from fake-gemini" },
      { role: "user", text: "second prompt" },
    ]);
    expect(fake.requests[2]?.mode).toBe("");
  });

  it("passes the request to a reply function", async () => {
    api = await startFakeGeminiApi({ reply: (r) => `echo ${r.messages.at(-1)?.text}` });
    const got = chunks(await (await stream(api.url, turnBody([{ role: "user", text: "ping" }]))).text());
    expect(got.map(textOf).join("")).toBe("echo ping");
  });

  it("answers a function call, then a text once the request carries its functionResponse", async () => {
    api = await startFakeGeminiApi({
      reply: (r) =>
        r.functionResponses.length === 0
          ? { functionCall: { name: "read_file", args: { file_path: "a.txt" } } }
          : `read ${JSON.stringify(r.functionResponses[0]?.response)}`,
    });
    const first = chunks(await (await stream(api.url, turnBody([{ role: "user", text: "read it" }]))).text());
    const parts = first.flatMap(
      (c) => (c as { candidates: Array<{ content: { parts: unknown[] } }> }).candidates[0]?.content.parts ?? [],
    );
    expect(parts).toEqual([{ functionCall: { name: "read_file", args: { file_path: "a.txt" } } }]);
    expect(first.at(-1)).toMatchObject({
      candidates: [{ finishReason: "STOP" }],
      usageMetadata: { candidatesTokenCount: expect.any(Number) },
    });

    // the request records the usageMetadata its answer reported
    expect(api.generations()[0]?.usage).toEqual((first.at(-1) as { usageMetadata: unknown }).usageMetadata);

    const body = {
      ...turnBody([{ role: "user", text: "read it" }]),
      contents: [
        { role: "user", parts: [{ text: "read it" }] },
        { role: "model", parts: [{ functionCall: { name: "read_file", args: { file_path: "a.txt" } } }] },
        { role: "user", parts: [{ functionResponse: { id: "c1", name: "read_file", response: { output: "A" } } }] },
      ],
    };
    const second = chunks(await (await stream(api.url, body)).text());
    expect(second.map(textOf).join("")).toBe('read {"output":"A"}');
    expect(api.generations()[1]?.functionResponses).toEqual([
      { id: "c1", name: "read_file", response: { output: "A" } },
    ]);
  });

  it("puts a thought first, as a part marked thought: true", async () => {
    api = await startFakeGeminiApi({ reply: () => ({ thought: "**Pondering**", text: "an answer" }) });
    const got = chunks(await (await stream(api.url, turnBody([]))).text());
    expect(
      (got[0] as { candidates: Array<{ content: { parts: unknown[] } }> }).candidates[0]?.content.parts[0],
    ).toEqual({
      text: "**Pondering**",
      thought: true,
    });
    const answer = got
      .flatMap(
        (c) =>
          (c as { candidates: Array<{ content: { parts: Array<{ text?: string; thought?: boolean }> } }> })
            .candidates[0]?.content.parts ?? [],
      )
      .filter((p) => !p.thought)
      .map((p) => p.text)
      .join("");
    expect(answer).toBe("an answer");
  });

  it.each([
    [401, "UNAUTHENTICATED"],
    [403, "PERMISSION_DENIED"],
    [500, "INTERNAL"],
  ])("status:%i answers a Google error body with %s", async (code, status) => {
    const { url } = await start(`status:${code}` as GeminiApiMode);
    const res = await stream(url, turnBody([]));
    expect(res.status).toBe(code);
    expect(await res.json()).toMatchObject({ error: { code, status, message: expect.any(String), details: [] } });
  });

  it("status:404 names the model as not found for API version v1beta", async () => {
    const { url } = await start("status:404");
    const res = await post(url, "fake-missing", "streamGenerateContent", turnBody([]), "?alt=sse");
    expect(await res.json()).toMatchObject({
      error: { code: 404, message: /models\/fake-missing is not found for API version v1beta/ },
    });
  });

  it("429 with retry-after carries a RetryInfo detail; quota carries a per-day QuotaFailure", async () => {
    const fake = await start("status:429:retry-after=1");
    const res = await stream(fake.url, turnBody([]));
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({
      error: {
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s" }],
      },
    });
    fake.setMode("quota");
    const quota = await stream(fake.url, turnBody([]));
    expect(quota.status).toBe(429);
    expect(await quota.json()).toMatchObject({
      error: {
        details: [{ "@type": "type.googleapis.com/google.rpc.QuotaFailure", violations: [{ quotaId: /PerDay/ }] }],
      },
    });
  });

  it("bad-key is a 400 API_KEY_INVALID", async () => {
    const { url } = await start("bad-key");
    const res = await stream(url, turnBody([]));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { status: "INVALID_ARGUMENT", message: /API key not valid/, details: [{ reason: "API_KEY_INVALID" }] },
    });
  });

  it("fail-first fails n generate requests then answers; countTokens is never failed", async () => {
    const fake = await start("fail-first:1:503");
    expect((await post(fake.url, "m", "countTokens", turnBody([]))).status).toBe(200);
    const first = await stream(fake.url, turnBody([]));
    expect(first.status).toBe(503);
    expect(await first.json()).toMatchObject({ error: { status: "UNAVAILABLE" } });
    const second = await stream(fake.url, turnBody([]));
    await second.text();
    expect(second.status).toBe(200);
    expect(fake.generations().map((r) => r.mode)).toEqual(["status:503", "ok"]);
  });

  it("empty streams one STOP chunk with no parts", async () => {
    const { url } = await start("empty");
    const got = chunks(await (await stream(url, turnBody([]))).text());
    expect(got.length).toBe(1);
    expect(got[0]?.candidates).toEqual([{ content: { role: "model", parts: [] }, finishReason: "STOP", index: 0 }]);
  });

  it("hang sends nothing until close; the log shows the request pending", async () => {
    const fake = await start("hang");
    const pending = stream(fake.url, turnBody([])).then(
      () => "answered",
      () => "failed",
    );
    await expect.poll(() => fake.generations().length).toBe(1);
    expect(fake.generations()[0]?.status).toBe(0);
    await fake.close();
    expect(await pending).toBe("failed");
  });

  it("stall-after-start sends the headers and the first chunk without a finishReason, then nothing", async () => {
    const fake = await start("stall-after-start", "Hello from fake-gemini");
    const res = await stream(fake.url, turnBody([]));
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    const got = chunks(text);
    expect(got.map(textOf)).toEqual(["Hello from "]);
    expect(got[0]?.usageMetadata).toBeUndefined();
    const more = reader?.read().then(
      (c) => (c.done ? "ended" : "more"),
      () => "failed",
    );
    await fake.close();
    expect(await more).not.toBe("more");
  });

  it("drop resets the connection", async () => {
    const { url } = await start("drop");
    await expect(stream(url, turnBody([]))).rejects.toThrow();
  });

  it("rejects an unknown mode with E_TESTKIT_BAD_OPTION", async () => {
    await expect(startFakeGeminiApi({ mode: "nope" as GeminiApiMode })).rejects.toSatisfy(
      (e: unknown) => TestkitError.isInstance(e) && e.code === "E_TESTKIT_BAD_OPTION",
    );
  });
});
