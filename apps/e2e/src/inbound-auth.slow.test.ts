import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type FakeModelApi, startFakeModelApi } from "@molecule/testkit";
import {
  ClientFactoryOptions as ClientFactoryOptionsV1,
  ClientFactory as ClientFactoryV1,
  JsonRpcTransportFactory as JsonRpcTransportFactoryV1,
} from "a2a-sdk-v1/client";
import type { MessageSendParams } from "a2a-sdk-v03";
import {
  ClientFactoryOptions as ClientFactoryOptionsV03,
  ClientFactory as ClientFactoryV03,
  JsonRpcTransportFactory as JsonRpcTransportFactoryV03,
} from "a2a-sdk-v03/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerLastMarker, answerTo, marker, v1SendRequest } from "./support/a2a.js";
import { type Daemon, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// Issue 21 item 1: a2a.auth: bearer on the built daemon, driven by the official A2A SDK clients
// (0.3.x speaks v0.3, 1.x speaks v1.0), and the refusal to serve unauthenticated beyond loopback.

const e2e = e2eSuite("molecule-e2e-auth-");
const TURN_TIMEOUT = 180_000;
const TOKEN_A = `a2a-token-a-${randomUUID()}`;
const TOKEN_B = `a2a-token-b-${randomUUID()}`;

let api: FakeModelApi;
beforeAll(async () => {
  api = await startFakeModelApi({ reply: answerLastMarker });
});
afterAll(() => api.close());

/** The built daemon with a2a.auth: bearer, accepting two tokens (two callers), on Claude Code. */
async function startBearerDaemon(): Promise<Daemon> {
  const d = await startDaemon({
    platform: e2e.platform,
    config: { runtime_config: { timeout: 90 }, a2a: { auth: "bearer", auth_token_file: "a2a-tokens" } },
    env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: "test-key", MOLECULE_A2A_ALLOW_UNAUTHENTICATED: undefined },
    beforeStart: ({ root }) => writeFile(join(root, "configs", "a2a-tokens"), `${TOKEN_A}\n${TOKEN_B}\n`),
  });
  await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
  return d;
}

/** A fetch that sends `Authorization: Bearer <token>` (what the SDKs are given to authenticate). */
const withToken =
  (token: string): typeof fetch =>
  (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };

function v03Client(base: string, token?: string) {
  const factory = token
    ? new ClientFactoryV03(
        ClientFactoryOptionsV03.createFrom(ClientFactoryOptionsV03.default, {
          transports: [new JsonRpcTransportFactoryV03({ fetchImpl: withToken(token) })],
        }),
      )
    : new ClientFactoryV03();
  return factory.createFromUrl(base);
}

function v1Client(base: string, token?: string) {
  const factory = token
    ? new ClientFactoryV1(
        ClientFactoryOptionsV1.createFrom(ClientFactoryOptionsV1.default, {
          transports: [new JsonRpcTransportFactoryV1({ fetchImpl: withToken(token) })],
        }),
      )
    : new ClientFactoryV1();
  return factory.createFromUrl(base);
}

const v03Params = (text: string, contextId?: string): MessageSendParams => ({
  message: {
    kind: "message",
    role: "user",
    messageId: randomUUID(),
    ...(contextId ? { contextId } : {}),
    parts: [{ kind: "text", text }],
  },
});

const v1Request = (text: string) => v1SendRequest(text);

const post = (d: Daemon, body: unknown, authorization?: string) =>
  fetch(`${d.base()}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });

describe("a2a.auth: bearer", () => {
  it(
    "the SDK clients are refused without a token (401) and answered with one; a bogus token is refused; another caller's task is invisible; the card and probes stay open",
    async () => {
      const d = await startBearerDaemon();

      // The card (open) declares the scheme for both versions.
      const card = (await (await fetch(`${d.base()}/.well-known/agent-card.json`)).json()) as Record<string, unknown>;
      expect(card.securitySchemes).toMatchObject({
        bearer: { type: "http", scheme: "bearer", httpAuthSecurityScheme: { scheme: "Bearer" } },
      });
      expect(card.security).toEqual([{ bearer: [] }]);
      expect(card.securityRequirements).toEqual([{ schemes: { bearer: { list: [] } } }]);
      for (const path of ["/livez", "/readyz", "/metrics", "/.well-known/agent.json"]) {
        expect((await fetch(`${d.base()}${path}`)).status, path).toBe(200);
      }

      // v0.3: no token → 401; with token A → the answer.
      const anonV03 = await v03Client(d.base());
      await expect(anonV03.sendMessage(v03Params(`${marker("AUTH-0")} hi`))).rejects.toThrow(/401|Unauthorized/);
      const v03A = await v03Client(d.base(), TOKEN_A);
      const reply = await v03A.sendMessage(v03Params(`${marker("AUTH-1")} hello`));
      expect(reply).toMatchObject({
        kind: "message",
        role: "agent",
        parts: [{ kind: "text", text: answerTo("AUTH-1") }],
      });
      const { taskId, contextId } = reply as { taskId: string; contextId: string };
      expect(await v03A.getTask({ id: taskId })).toMatchObject({ id: taskId, status: { state: "completed" } });

      // Another caller (token B) cannot see or cancel A's task, whatever the id.
      const v03B = await v03Client(d.base(), TOKEN_B);
      await expect(v03B.getTask({ id: taskId })).rejects.toThrow(/-32001|not found/i);
      await expect(v03B.cancelTask({ id: taskId })).rejects.toThrow(/-32001|not found/i);
      // Nor continue A's conversation (its history is A's); B's own default conversation is another.
      await expect(v03B.sendMessage(v03Params(`${marker("AUTH-X")} hi`, contextId))).rejects.toThrow(/another caller/);

      // v1.0: no token → 401; with token B → the answer; A's task is not B's.
      const anonV1 = await v1Client(d.base());
      await expect(anonV1.sendMessage(v1Request(`${marker("AUTH-2")} hi`))).rejects.toThrow(/401|Unauthorized/);
      const v1B = await v1Client(d.base(), TOKEN_B);
      expect(v1B.protocolVersion).toBe("1.0");
      const v1Reply = await v1B.sendMessage(v1Request(`${marker("AUTH-3")} hello`));
      if (!("role" in v1Reply)) throw new Error(`expected a message, got ${JSON.stringify(v1Reply)}`);
      expect(v1Reply.parts.map((p) => (p.content?.$case === "text" ? p.content.value : ""))).toEqual([
        answerTo("AUTH-3"),
      ]);
      await expect(v1B.getTask({ tenant: "", id: taskId, historyLength: undefined })).rejects.toThrow(
        /-32001|not found/i,
      );

      // A bogus or malformed credential: 401 with WWW-Authenticate: Bearer, nothing run.
      const turnsBefore = api.requests.length;
      const send = {
        jsonrpc: "2.0",
        id: 1,
        method: "message/send",
        params: { message: { role: "user", messageId: randomUUID(), parts: [{ kind: "text", text: "x" }] } },
      };
      for (const authorization of [undefined, "Bearer x", `Bearer ${TOKEN_A}x`, `Basic ${TOKEN_A}`]) {
        const res = await post(d, send, authorization);
        expect(res.status, String(authorization)).toBe(401);
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
        await res.body?.cancel();
      }
      expect(api.requests.length).toBe(turnsBefore);

      // No presented token reaches the daemon's output.
      const output = JSON.stringify(d.logs) + d.stderr();
      expect(output).not.toContain(TOKEN_A);
      expect(output).not.toContain(TOKEN_B);
    },
    TURN_TIMEOUT,
  );
});

describe("a2a.auth: none beyond loopback", () => {
  it("refuses to start without the opt-in, naming both ways to allow it; the config's opt-in starts it", async () => {
    const refused = await startDaemon({
      platform: e2e.platform,
      env: { MOLECULE_A2A_ALLOW_UNAUTHENTICATED: undefined },
      waitListening: false,
    });
    const stillRunning = new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000));
    expect(await Promise.race([refused.exited, stillRunning])).toMatchObject({ code: 1 });
    expect(refused.stderr()).toContain("a2a.allow_unauthenticated: true");
    expect(refused.stderr()).toContain("MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1");
    expect(refused.logs.some((l) => l.event === "a2a.listening")).toBe(false);

    const allowed = await startDaemon({
      platform: e2e.platform,
      config: { a2a: { allow_unauthenticated: true } },
      env: { MOLECULE_A2A_ALLOW_UNAUTHENTICATED: undefined },
    });
    expect((await fetch(`${allowed.base()}/livez`)).status).toBe(200);
    const warned = await allowed.waitForLog((l) => l.code === "W_A2A_UNAUTHENTICATED");
    expect(String(warned.msg)).toContain("NetworkPolicy");
  });
});
