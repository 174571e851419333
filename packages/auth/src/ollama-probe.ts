import type { AgentAuthContext, AgentAuthResult } from "./agent-auth.js";
import { nonEmpty } from "./probe-util.js";

/** The env var whose value an endpoint agent sends as `Authorization: Bearer` (a gateway's key). @internal */
export const ENDPOINT_KEY_ENV = "OPENAI_API_KEY";

/**
 * An OpenAI-compatible endpoint (a local Ollama, vLLM, llama.cpp's server): no credentials are
 * required, so this is always ok; a gateway key in `OPENAI_API_KEY` is sent as `Authorization: Bearer`
 * when set. Whether the endpoint answers is preflight's `agent-endpoint` check, not this one. @internal
 */
export async function checkEndpointCredentials(ctx: AgentAuthContext): Promise<AgentAuthResult> {
  if (nonEmpty(ctx.env[ENDPOINT_KEY_ENV])) {
    return {
      ok: true,
      state: "ok",
      method: "api-key-env",
      reason: `${ENDPOINT_KEY_ENV} is set in the environment (sent as Authorization: Bearer)`,
      warnings: [],
    };
  }
  return {
    ok: true,
    state: "ok",
    reason: `no credentials needed (a gateway's key in ${ENDPOINT_KEY_ENV} would be sent as Authorization: Bearer)`,
    warnings: [],
  };
}
