import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type DevAgentHarness, earlierIn } from "./agent-harness.js";

/** The model the dev config names; the fake lists it. */
const MODEL = "qwen3:0.6b";

/**
 * `molecule dev --agent ollama`: no CLI to install — the daemon's own executor posts each turn to
 * testkit's fake OpenAI-compatible chat endpoint and keeps the conversation in the state dir.
 */
export const OLLAMA_DEV: DevAgentHarness = {
  id: "ollama",
  name: "ollama executor",
  apiName: "OpenAI-compatible chat endpoint",
  installSize: "nothing to install",
  model: MODEL,
  async startModelApi(testkit, reply) {
    const api = await testkit.startFakeChatCompletions({
      models: [MODEL],
      reply: (request) => reply(request.messages.filter((m) => m.role === "assistant").length),
    });
    const requests = () =>
      api.completions().map((r) => ({ messages: r.messages.map((m) => ({ role: m.role, text: m.content })) }));
    return {
      url: api.url,
      earlierTurns: (text) => earlierIn(requests(), text, "assistant"),
      setMode: (mode) => api.setMode(mode === "unauthorized" ? "status:401" : mode),
      close: () => api.close(),
    };
  },
  // The daemon keeps the history, not an agent: <state dir>/conversations/ollama/<hash>.json, beside
  // the agent home <state dir>/agents/ollama it is handed.
  async transcripts(home) {
    const dir = join(dirname(dirname(home)), "conversations", "ollama");
    try {
      return (await readdir(dir)).filter((name) => name.endsWith(".json")).map((name) => join(dir, name));
    } catch {
      return [];
    }
  },
};
