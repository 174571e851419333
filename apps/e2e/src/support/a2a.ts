import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { modelRequestTexts } from "@molecule/test-support";
import type { FakeModelApi, ModelApiRequest, TestPlatform } from "@molecule/testkit";
import { Role, type SendMessageRequest } from "a2a-sdk-v1";
import { type Daemon, postRaw, type RpcResponse, startDaemon } from "./daemon.js";

/** A marker a test puts in a message (`[[A1]]`); the fake model answers `ANSWER-A1` to it. */
export const marker = (name: string) => `[[${name}]]`;
export const answerTo = (name: string) => `ANSWER-${name}`;

/** The fake model's reply: the answer to the last marker of the request's messages. */
export function answerLastMarker(request: ModelApiRequest): string {
  const texts = modelRequestTexts(request.body);
  for (let i = texts.length - 1; i >= 0; i -= 1) {
    const found = /\[\[([A-Za-z0-9-]+)\]\]/.exec(texts[i] ?? "");
    if (found?.[1]) return answerTo(found[1]);
  }
  return "Hello from the fake model API.";
}

/** The model requests whose newest user text carries `marker(name)` (the turn's own request). */
export function turnRequests(api: FakeModelApi, name: string): ModelApiRequest[] {
  return api.messages().filter((m) => answerLastMarker(m) === answerTo(name));
}

/** Every text of a model request, joined (for "carries X before Y" checks). */
export const requestText = (request: ModelApiRequest | undefined) => modelRequestTexts(request?.body).join("\n");

/** The built daemon driving the real Claude Code CLI against the fake model API. */
export async function startClaudeDaemon(
  platform: TestPlatform,
  api: FakeModelApi,
  options: { config?: Record<string, unknown>; restartOf?: Daemon } = {},
): Promise<Daemon> {
  const d = await startDaemon({
    platform,
    config: { runtime_config: { timeout: 90 }, ...options.config },
    env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: "test-key" },
    ...(options.restartOf ? { restartOf: options.restartOf } : {}),
  });
  await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
  return d;
}

/** One v0.3 `message/send`, optionally in a context of the caller's choosing. */
export async function say(d: Daemon, text: string, contextId?: string): Promise<RpcResponse> {
  const res = await postRaw(
    d,
    JSON.stringify({
      jsonrpc: "2.0",
      id: randomUUID(),
      method: "message/send",
      params: {
        message: {
          role: "user",
          messageId: randomUUID(),
          ...(contextId ? { contextId } : {}),
          parts: [{ kind: "text", text }],
        },
      },
    }),
  );
  if (res.status !== 200) throw new Error(`A2A answered HTTP ${res.status}: ${res.text}`);
  return res.json;
}

/** The session id the daemon keeps for `contextId` (in `<state>/contexts.json`). */
export async function sessionOf(d: Daemon, contextId: string): Promise<string | undefined> {
  const stored = JSON.parse(await readFile(join(d.stateDir, "contexts.json"), "utf8")) as {
    contexts: Array<{ contextId: string; sessionId: string }>;
  };
  return stored.contexts.find((c) => c.contextId === contextId)?.sessionId;
}

/** A v1.0 SDK client's `SendMessageRequest` of one text part (the generated type spells out every field). */
export function v1SendRequest(
  text: string,
  options: { messageId?: string; contextId?: string; returnImmediately?: boolean } = {},
): SendMessageRequest {
  return {
    tenant: "",
    message: {
      messageId: options.messageId ?? randomUUID(),
      contextId: options.contextId ?? "",
      taskId: "",
      role: Role.ROLE_USER,
      parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      historyLength: undefined,
      returnImmediately: options.returnImmediately ?? false,
    },
    metadata: undefined,
  };
}
