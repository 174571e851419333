import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type ChatCompletionsMode, type FakeChatCompletions, startFakeChatCompletions } from "@molecule/testkit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { answerTo, marker } from "./support/a2a.js";
import { type Daemon, getJson, metricValue, replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// runtime: ollama — the built daemon against the testkit's fake OpenAI-compatible chat endpoint: no
// agent CLI anywhere, the daemon keeps each context's history itself.

const e2e = e2eSuite("molecule-e2e-ollama-");
const MODEL = "qwen-fake:0.5b";

let api: FakeChatCompletions;
beforeAll(async () => {
  api = await startFakeChatCompletions({
    models: [MODEL],
    // Answers the last [[marker]] of the newest user message.
    reply: (r) => {
      const last = r.messages.filter((m) => m.role === "user").at(-1)?.content ?? "";
      const name = [...last.matchAll(/\[\[([^\]]+)\]\]/g)].at(-1)?.[1];
      return name ? answerTo(name) : "no marker";
    },
  });
});
afterAll(() => api.close());
beforeEach(() => api.setMode("ok"));

async function start(options: { restartOf?: Daemon; runtimeConfig?: Record<string, unknown> } = {}) {
  const d = await startDaemon({
    platform: e2e.platform,
    config: {
      runtime: "ollama",
      runtime_config: { base_url: api.url, model: MODEL, timeout: 3, ...options.runtimeConfig },
    },
    ...(options.restartOf ? { restartOf: options.restartOf } : {}),
  });
  await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
  return d;
}

const say = (d: Daemon, name: string, contextId: string, extra = "") =>
  sendMessage(d, `${marker(name)} ${extra}`.trim(), { contextId });
const sent = (name: string) => api.completions().filter((r) => r.messages.at(-1)?.content.includes(marker(name)));
const allText = (name: string) => JSON.stringify(sent(name).at(-1)?.messages ?? []);

describe("runtime: ollama (fake OpenAI-compatible endpoint)", () => {
  it("answers; keeps two contexts apart; remembers a context across a restart", async () => {
    const d = await start();
    const a1 = await say(d, "A1", "ctx-A", "Remember PAPAYA.");
    expect(replyText(a1)).toBe(answerTo("A1"));
    // the endpoint's usage chunk is the result's metadata.usage, with the other agents' field names
    expect((a1.result as { metadata?: unknown } | undefined)?.metadata).toEqual({
      // the fake: 1 token per 4 characters of "ANSWER-A1"; the model the endpoint named; the agent's own estimate
      usage: { input_tokens: expect.any(Number), output_tokens: 3, model: MODEL, source: "agent-estimate" },
    });
    expect(replyText(await say(d, "B1", "ctx-B", "Remember KIWI."))).toBe(answerTo("B1"));
    expect(replyText(await say(d, "A2", "ctx-A", "Which fruit?"))).toBe(answerTo("A2"));
    expect(allText("A2")).toContain("PAPAYA");
    expect(allText("A2")).toContain(answerTo("A1")); // the model's own earlier answer
    expect(allText("A2")).not.toContain("KIWI");
    expect(allText("B1")).not.toContain("PAPAYA");
    expect(sent("A1")[0]).toMatchObject({ model: MODEL, stream: true, bearer: false });
    const files = await readdir(join(d.stateDir, "conversations", "ollama"));
    expect(files).toHaveLength(2);
    expect((await getJson(d, "/readyz")).status).toBe(200);
    // usage (the fake's usage chunk) reaches the metrics and the turn's log line
    const metrics = (await getJson(d, "/metrics")).text;
    expect(metricValue(metrics, "molecule_model_tokens_total", 'direction="output"')).toBeGreaterThan(0);
    const finished = d.logs.find((l) => l.event === "turn.finished");
    expect(finished?.usage).toEqual({
      input_tokens: expect.any(Number),
      output_tokens: expect.any(Number),
      model: MODEL,
    });
    expect(
      metricValue(metrics, "molecule_tokens_total", `kind="output",model="${MODEL}",outcome="ok"`),
    ).toBeGreaterThan(0);

    d.child.kill("SIGTERM");
    await d.exited;
    const again = await start({ restartOf: d });
    expect(replyText(await say(again, "A3", "ctx-A", "And now?"))).toBe(answerTo("A3"));
    const a3 = allText("A3");
    expect(a3.indexOf("PAPAYA")).toBeGreaterThanOrEqual(0);
    expect(a3.indexOf(marker("A2"))).toBeGreaterThan(a3.indexOf("PAPAYA"));
    expect(a3).not.toContain("KIWI");
  }, 90_000);

  it.each([
    ["model-not-found", "agent-error", "ollama pull"],
    ["status:401", "auth", "OPENAI_API_KEY"],
    ["status:429:retry-after=0", "rate-limited", "rate-limited"],
    ["status:503:retry-after=0", "rate-limited", "rate-limited"],
    ["empty", "agent-error", "answered nothing"],
    ["drop", "agent-error", "stopped mid-answer"],
    ["stall-after-start", "timeout", "did not finish within 3 s"],
    ["hang", "timeout", "did not finish within 3 s"],
  ] as const)(
    "%s → %s",
    async (mode: ChatCompletionsMode, outcome, message) => {
      const d = await start();
      api.setMode(mode);
      const rpc = await say(d, "F1", "ctx-F");
      expect(rpc.error?.data?.outcome).toBe(outcome);
      expect(rpc.error?.message).toContain(message);
      const metrics = await getJson<string>(d, "/metrics");
      expect(metricValue(String(metrics.text), "molecule_turns_total", `outcome="${outcome}"`)).toBe(1);
      // A failed turn leaves no half conversation behind: the next ok turn sends only itself.
      api.setMode("ok");
      expect(replyText(await say(d, "F2", "ctx-F"))).toBe(answerTo("F2"));
      expect(
        sent("F2")
          .at(-1)
          ?.messages.map((m) => m.role),
      ).toEqual(["user"]);
    },
    60_000,
  );

  it("a server that is not up yet: boot warns and goes live, readiness fails, a turn is a crash naming base_url", async () => {
    const down = await startFakeChatCompletions({ models: [MODEL] });
    const url = down.url;
    await down.close();
    const d = await start({ runtimeConfig: { base_url: url } });
    expect(d.logs.some((l) => JSON.stringify(l).includes("W_AGENT_ENDPOINT_UNREACHABLE"))).toBe(true);
    expect((await getJson(d, "/readyz")).status).toBe(503);
    const rpc = await say(d, "C1", "ctx-C");
    expect(rpc.error?.data?.outcome).toBe("crash");
    expect(rpc.error?.message).toContain("runtime_config.base_url");
  }, 60_000);
});
