import { afterEach, describe, expect, it } from "vitest";
import { type FakeChatCompletions, startFakeChatCompletions, TestkitError } from "./index.js";

let api: FakeChatCompletions | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function post(url: string, body: unknown, signal?: AbortSignal) {
  return fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-gateway-secret" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: "llama-fake",
  stream: true,
  messages: [
    { role: "system", content: "be brief" },
    { role: "user", content: "hi" },
  ],
  ...extra,
});

/** The `data:` payloads of an SSE body, `[DONE]` kept as a string. */
function dataLines(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const data = /^data: (.+)$/m.exec(block)?.[1] ?? "";
      return data === "[DONE]" ? data : (JSON.parse(data) as unknown);
    });
}

const contentOf = (chunks: unknown[]) =>
  chunks
    .map((c) => (c as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0]?.delta?.content ?? "")
    .join("");

describe("startFakeChatCompletions", () => {
  it("streams the reply in pieces, a usage chunk when asked, then [DONE]; logs the request without the key", async () => {
    api = await startFakeChatCompletions({ reply: "Hello there, local model" });
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const res = await post(api.url, chat({ stream_options: { include_usage: true } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const chunks = dataLines(await res.text());
    expect(chunks.at(-1)).toBe("[DONE]");
    expect(contentOf(chunks)).toBe("Hello there, local model");
    const usage = (chunks.at(-2) as { usage?: Record<string, number>; choices: unknown[] }).usage;
    expect(usage?.completion_tokens).toBe(6);
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    const [rec] = api.completions();
    expect(rec?.messages).toEqual([
      { role: "system", content: "be brief" },
      { role: "user", content: "hi" },
    ]);
    expect(rec?.bearer).toBe(true);
    expect(rec?.headers.authorization).toBe("***");
    expect(JSON.stringify(api.requests)).not.toContain("sk-gateway-secret");
    expect(rec?.status).toBe(200);
  });

  it("sends no usage chunk unless include_usage; answers JSON when not streaming", async () => {
    api = await startFakeChatCompletions({ reply: (r) => `echo ${r.messages.at(-1)?.content}` });
    const chunks = dataLines(await (await post(api.url, chat())).text());
    expect(chunks.some((c) => typeof c === "object" && c !== null && "usage" in c)).toBe(false);
    const json = (await (await post(api.url, chat({ stream: false }))).json()) as {
      choices: Array<{ message: { content: string } }>;
      usage: { completion_tokens: number };
    };
    expect(json.choices[0]?.message.content).toBe("echo hi");
    expect(json.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("lists its models at GET /v1/models", async () => {
    api = await startFakeChatCompletions({ models: ["qwen-fake", "llama-fake"] });
    const list = (await (await fetch(`${api.url}/models`)).json()) as { data: Array<{ id: string }> };
    expect(list.data.map((m) => m.id)).toEqual(["qwen-fake", "llama-fake"]);
  });

  it("model-not-found answers Ollama's 404 naming the model", async () => {
    api = await startFakeChatCompletions({ mode: "model-not-found" });
    const res = await post(api.url, chat({ model: "qwen3:0.6b" }));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'model "qwen3:0.6b" not found, try pulling it first' });
  });

  it("empty streams no content; status and fail-first answer OpenAI-shaped errors, then ok", async () => {
    api = await startFakeChatCompletions({ mode: "empty" });
    const chunks = dataLines(await (await post(api.url, chat())).text());
    expect(contentOf(chunks)).toBe("");
    expect(chunks.at(-1)).toBe("[DONE]");
    api.setMode("status:429:retry-after=3");
    const limited = await post(api.url, chat());
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect(((await limited.json()) as { error: { code: string } }).error.code).toBe("rate_limit_exceeded");
    api.setMode("fail-first:1:503");
    expect((await post(api.url, chat())).status).toBe(503);
    expect((await post(api.url, chat())).status).toBe(200);
    expect(api.completions().map((r) => r.mode)).toEqual(["empty", "status:429", "status:503", "ok"]);
  });

  it("stall-after-start sends the first piece and then nothing; hang answers nothing; drop resets", async () => {
    api = await startFakeChatCompletions({ mode: "stall-after-start", reply: "first half second half" });
    const controller = new AbortController();
    const res = await post(api.url, chat(), controller.signal);
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    let seen = "";
    while (!seen.includes("first")) {
      const { value } = (await reader?.read()) ?? {};
      seen += new TextDecoder().decode(value);
    }
    expect(seen).not.toContain("[DONE]");
    controller.abort();

    api.setMode("hang");
    const hung = new AbortController();
    const pending = post(api.url, chat(), hung.signal);
    await expect(Promise.race([pending, new Promise((r) => setTimeout(() => r("waiting"), 200))])).resolves.toBe(
      "waiting",
    );
    hung.abort();
    await expect(pending).rejects.toThrow();

    api.setMode("drop");
    await expect(post(api.url, chat())).rejects.toThrow();
  });

  it("refuses an unknown mode with a code", async () => {
    await expect(startFakeChatCompletions({ mode: "nope" as "ok" })).rejects.toBeInstanceOf(TestkitError);
  });
});
