import { join } from "node:path";
import { type DevAgentHarness, earlierIn, jsonlFiles } from "./agent-harness.js";

/** `molecule dev --agent gemini-cli`: the real Gemini CLI against testkit's fake Gemini API. */
export const GEMINI_CLI_DEV: DevAgentHarness = {
  id: "gemini-cli",
  name: "Gemini CLI",
  apiName: "Gemini API",
  installSize: "~100 MB",
  // One process instead of a relaunch with a bigger heap: half the start-up (~1.3 s vs ~2.6 s),
  // as the executor runs its turns; preflight's `gemini --version` gets it too.
  env: { GEMINI_CLI_NO_RELAUNCH: "true" },
  async startModelApi(testkit, reply) {
    const api = await testkit.startFakeGeminiApi({
      reply: (request) => reply(request.messages.filter((m) => m.role === "model").length),
    });
    // The conversation goes to :streamGenerateContent; the model router's side call does not count.
    const conversation = () => api.generations().filter((r) => r.stream);
    return {
      url: api.url,
      earlierTurns: (text) => earlierIn(conversation(), text, "model"),
      setMode: (mode) => api.setMode(mode === "unauthorized" ? "status:401" : mode),
      close: () => api.close(),
    };
  },
  // $GEMINI_CLI_HOME/.gemini/tmp/<project>/chats/session-<time>-<id prefix>.jsonl
  transcripts: (home) => jsonlFiles(join(home, ".gemini", "tmp"), /^[^/]+\/chats\/[^/]+\.jsonl$/),
};
