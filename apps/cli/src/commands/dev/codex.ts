import { join } from "node:path";
import { type DevAgentHarness, earlierIn, jsonlFiles } from "./agent-harness.js";

const API = "OpenAI Responses API";

/** `molecule dev --agent codex`: the real Codex CLI against testkit's fake OpenAI Responses API. */
export const CODEX_DEV: DevAgentHarness = {
  id: "codex",
  name: "Codex CLI",
  apiName: API,
  installSize: "~420 MB",
  async startModelApi(testkit, reply) {
    const api = await testkit.startFakeOpenAiResponses({
      reply: (request) => reply(request.messages.filter((m) => m.role === "assistant").length),
    });
    return {
      url: api.url,
      earlierTurns: (text) => earlierIn(api.responses(), text, "assistant"),
      setMode: (mode) => api.setMode(mode === "unauthorized" ? "status:401" : mode),
      close: () => api.close(),
    };
  },
  // $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl
  transcripts: (home) => jsonlFiles(join(home, "sessions"), /(^|\/)rollout-[^/]+\.jsonl$/),
};
