import type { AgentDescriptor } from "@molecule/auth";
import type { WorkspaceConfig } from "@molecule/config";
import * as z from "zod";
import { defineCheck } from "./run.js";
import { agentFor } from "./runtimes.js";
import type { Check, CheckIssue, Env } from "./types.js";

/** How long `GET {base_url}/models` may take, ms. @internal */
export const ENDPOINT_TIMEOUT_MS = 3_000;

/** The env var whose value goes to the endpoint as `Authorization: Bearer` (a gateway's key). */
const KEY_ENV = "OPENAI_API_KEY";

const ModelList = z.object({ data: z.array(z.object({ id: z.string() }).loose()) }).loose();

/** The base URL an endpoint agent is reached at: `runtime_config.base_url`, else the registry's default. @internal */
export function endpointBaseUrl(config: WorkspaceConfig, agent: AgentDescriptor): string | undefined {
  const base = config.runtime_config.base_url ?? agent.endpoint?.defaultBaseUrl;
  return base?.replace(/\/+$/, "");
}

/** True when `listed` names `model` (Ollama lists `qwen3:latest` for a config's `qwen3`). @internal */
export function listsModel(listed: readonly string[], model: string): boolean {
  return listed.includes(model) || (!model.includes(":") && listed.includes(`${model}:latest`));
}

type Probe =
  | { kind: "ok"; models: string[] }
  | { kind: "unreachable"; reason: string }
  | { kind: "status"; status: number }
  | { kind: "bad-body" };

async function listModels(base: string, env: Env, signal: AbortSignal): Promise<Probe> {
  const key = env[KEY_ENV]?.trim();
  const timeout = AbortSignal.timeout(ENDPOINT_TIMEOUT_MS);
  try {
    const res = await fetch(`${base}/models`, {
      headers: { accept: "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      signal: AbortSignal.any([signal, timeout]),
      redirect: "error",
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { kind: "status", status: res.status };
    }
    const parsed = ModelList.safeParse(await res.json().catch(() => undefined));
    return parsed.success ? { kind: "ok", models: parsed.data.data.map((m) => m.id) } : { kind: "bad-body" };
  } catch (error) {
    if (timeout.aborted) return { kind: "unreachable", reason: `no answer within ${ENDPOINT_TIMEOUT_MS / 1000} s` };
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? cause.code : undefined;
    return { kind: "unreachable", reason: code ?? (error instanceof Error ? error.message : String(error)) };
  }
}

/**
 * For an agent served over an OpenAI-compatible endpoint (the descriptor's `endpoint`): a model is
 * configured (else it fails), and `GET {base_url}/models` answers and lists it. An endpoint that does
 * not answer, refuses the key or lacks the model warns at boot (a local model server often starts
 * after the workspace) and, with `unreachable: "fail"` (the readiness gate), fails. Never throws.
 */
function endpointCheck(unreachable: "warn" | "fail"): Check {
  return defineCheck({
    name: "agent-endpoint",
    timeoutMs: ENDPOINT_TIMEOUT_MS + 2_000,
    async run({ config, env, agents, signal }) {
      const agent = agentFor(agents, config.runtime);
      if (!agent?.endpoint) return { skip: `runtime ${config.runtime} is not served over an endpoint` };
      const model = config.runtime_config.model ?? config.model;
      if (!model) {
        return {
          issues: [
            {
              severity: "fail",
              code: "E_AGENT_MODEL_MISSING",
              title: "No model configured",
              detail: `runtime ${config.runtime} talks to a model server, and which model it runs must be named`,
              fix: "Set runtime_config.model (or model) to a model the server has, e.g. qwen3:0.6b.",
            },
          ],
        };
      }
      const base = endpointBaseUrl(config, agent) ?? agent.endpoint.defaultBaseUrl;
      const issue = (code: string, title: string, detail: string, fix: string): CheckIssue => ({
        severity: unreachable,
        code: `${unreachable === "fail" ? "E" : "W"}_${code}`,
        title,
        detail,
        fix,
      });
      const result = await listModels(base, env, signal);
      switch (result.kind) {
        case "unreachable":
          return {
            issues: [
              issue(
                "AGENT_ENDPOINT_UNREACHABLE",
                "Model server does not answer",
                `GET ${base}/models: ${result.reason}`,
                `Start the model server, or set runtime_config.base_url to where it listens (with /v1).${agent.installHint ? ` ${agent.installHint}` : ""}`,
              ),
            ],
          };
        case "status":
          return {
            issues: [
              issue(
                result.status === 401 || result.status === 403 ? "AGENT_ENDPOINT_AUTH" : "AGENT_ENDPOINT_STATUS",
                "Model server refused the model list",
                `GET ${base}/models answered ${result.status}`,
                result.status === 401 || result.status === 403
                  ? `Set ${KEY_ENV} to the key the server or gateway expects (sent as Authorization: Bearer).`
                  : "Check runtime_config.base_url: it must be the OpenAI-compatible API root, ending in /v1.",
              ),
            ],
          };
        case "bad-body":
          return {
            issues: [
              issue(
                "AGENT_ENDPOINT_STATUS",
                "Model server is not OpenAI-compatible",
                `GET ${base}/models did not answer an OpenAI model list ({"data":[{"id":…}]})`,
                "Check runtime_config.base_url: it must be the OpenAI-compatible API root, ending in /v1.",
              ),
            ],
          };
        default:
          if (listsModel(result.models, model)) return { detail: `${base} serves ${model}` };
          return {
            issues: [
              issue(
                "AGENT_MODEL_NOT_LISTED",
                "Model not on the server",
                `${base} lists ${result.models.length === 0 ? "no models" : result.models.slice(0, 10).join(", ")}, not ${model}`,
                agent.endpoint.pullCommand
                  ? `Run \`${agent.endpoint.pullCommand} ${model}\` on the model server, or set runtime_config.model to a listed model.`
                  : "Load the model on the server, or set runtime_config.model to a listed model.",
              ),
            ],
          };
      }
    },
  });
}

/** The boot check: a model server that does not answer yet warns. @internal */
export const agentEndpointCheck = endpointCheck("warn");

/** The readiness gate's: a model server that does not answer (or lacks the model) fails readiness. @internal */
export const agentEndpointReadyCheck = endpointCheck("fail");
