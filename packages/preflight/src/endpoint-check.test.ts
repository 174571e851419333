import { createServer } from "node:net";
import { type FakeChatCompletions, startFakeChatCompletions } from "@molecule/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { agentEndpointCheck, agentEndpointReadyCheck, listsModel } from "./endpoint-check.js";
import { baseEnv, config, runOne } from "./testing.js";
import { workspaceChecks } from "./workspace.js";

// The agent-endpoint check against the testkit's fake OpenAI-compatible endpoint (a real loopback
// server): the registry's endpoint agent (`runtime: ollama`) with runtime_config.base_url pointed at it.

const RUNTIME = "ollama";
let api: FakeChatCompletions | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const env = baseEnv("/nonexistent-home");
const endpointConfig = (runtimeConfig: Record<string, unknown>) =>
  config({ runtime: RUNTIME, runtime_config: runtimeConfig });

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("agent-endpoint", () => {
  it("passes when the endpoint lists the model (a bare name matches Ollama's :latest)", async () => {
    api = await startFakeChatCompletions({ models: ["qwen3:latest", "llama-fake"] });
    const r = await runOne(agentEndpointCheck, { env, config: endpointConfig({ base_url: api.url, model: "qwen3" }) });
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === "agent-endpoint")).toMatchObject({
      status: "pass",
      detail: `${api.url} serves qwen3`,
    });
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /v1/models"]);
    expect(listsModel(["qwen3:0.6b"], "qwen3")).toBe(false);
  });

  it("fails with a fix when no model is configured, without asking the server", async () => {
    api = await startFakeChatCompletions();
    const r = await runOne(agentEndpointCheck, { env, config: endpointConfig({ base_url: api.url }) });
    expect(r.failures.map((f) => [f.code, f.fix])).toEqual([
      ["E_AGENT_MODEL_MISSING", "Set runtime_config.model (or model) to a model the server has, e.g. qwen3:0.6b."],
    ]);
    expect(api.requests).toEqual([]);
  });

  it("a server that does not answer warns at boot and fails readiness (never throws)", async () => {
    const base = `http://127.0.0.1:${await closedPort()}/v1`;
    const cfg = endpointConfig({ base_url: base, model: "qwen3" });
    const boot = await runOne(agentEndpointCheck, { env, config: cfg });
    expect(boot.ok).toBe(true);
    expect(boot.warnings.map((w) => [w.code, w.detail])).toEqual([
      ["W_AGENT_ENDPOINT_UNREACHABLE", `GET ${base}/models: ECONNREFUSED`],
    ]);
    expect(boot.warnings[0]?.fix).toContain("runtime_config.base_url");
    const ready = await runOne(agentEndpointReadyCheck, { env, config: cfg });
    expect(ready.ok).toBe(false);
    expect(ready.failures.map((f) => f.code)).toEqual(["E_AGENT_ENDPOINT_UNREACHABLE"]);
  });

  it("a model the server lacks warns with the pull command", async () => {
    api = await startFakeChatCompletions({ models: ["llama-fake"] });
    const r = await runOne(agentEndpointCheck, {
      env,
      config: endpointConfig({ base_url: api.url, model: "qwen3:0.6b" }),
    });
    expect(r.warnings.map((w) => [w.code, w.detail, w.fix])).toEqual([
      [
        "W_AGENT_MODEL_NOT_LISTED",
        `${api.url} lists llama-fake, not qwen3:0.6b`,
        "Run `ollama pull qwen3:0.6b` on the model server, or set runtime_config.model to a listed model.",
      ],
    ]);
  });

  it("sends OPENAI_API_KEY as Bearer; a refused list names the key variable", async () => {
    api = await startFakeChatCompletions();
    const cfg = endpointConfig({ base_url: api.url, model: "llama-fake" });
    const r = await runOne(agentEndpointCheck, { env: { ...env, OPENAI_API_KEY: "sk-gw-SECRET" }, config: cfg });
    expect(r.checks.find((c) => c.name === "agent-endpoint")?.status).toBe("pass");
    expect(api.requests[0]?.bearer).toBe(true);
    // a wrong path (no /v1) answers 404: the fix says where the API root is
    const wrong = await runOne(agentEndpointCheck, {
      env,
      config: endpointConfig({ base_url: api.url.replace(/\/v1$/, ""), model: "llama-fake" }),
    });
    expect(wrong.warnings.map((w) => w.code)).toEqual(["W_AGENT_ENDPOINT_STATUS"]);
    expect(wrong.warnings[0]?.fix).toContain("ending in /v1");
    expect(JSON.stringify([r, wrong])).not.toContain("SECRET");
  });

  it("skips for a CLI agent; workspaceChecks lists it after agent-binary and swaps in the failing one for readiness", async () => {
    const r = await runOne(agentEndpointCheck, { env, config: config({ runtime: "codex" }) });
    expect(r.checks.find((c) => c.name === "agent-endpoint")?.status).toBe("skip");
    const boot = workspaceChecks(endpointConfig({ model: "m" }), { only: ["agent-binary", "agent-endpoint"] });
    expect(boot).toEqual([expect.objectContaining({ name: "agent-binary" }), agentEndpointCheck]);
    const ready = workspaceChecks(endpointConfig({ model: "m" }), {
      only: ["agent-auth", "agent-endpoint"],
      readiness: true,
    });
    expect(ready.map((c) => c.name)).toEqual(["agent-endpoint", "agent-auth"]);
    expect(ready[0]).toBe(agentEndpointReadyCheck);
  });
});
