import { randomUUID } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type WorkspaceConfigInput, workspaceConfigSchema } from "@molecule/config";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentCard } from "../agent-card.js";
import { RuntimeError } from "../errors.js";
import { createHttpServer } from "../http.js";
import type { Logger } from "../logger.js";
import {
  ALLOW_UNAUTHENTICATED_ENV,
  assertInboundPolicy,
  createInboundAuth,
  type InboundAuth,
  isLoopbackHost,
  parseTokens,
} from "./inbound-auth.js";
import { RPC } from "./rpc.js";
import type { A2AService } from "./service.js";
import { createTaskRegistry } from "./task-registry.js";

const TOKEN_A = "token-a-0123456789abcdef";
const TOKEN_B = "token-b-0123456789abcdef";
const config = (input: WorkspaceConfigInput = {}) => workspaceConfigSchema.parse(input);

function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: object, msg?: string) => void lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, info: push, warn: push, error: push };
}

let dir: string;
let server: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-inbound-auth-"));
});
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function bearer(tokens: string, extra: Record<string, unknown> = {}, log = captureLog()) {
  await writeFile(join(dir, "tokens"), tokens);
  const auth = await createInboundAuth({
    config: config({ a2a: { auth: "bearer", auth_token_file: "tokens", ...extra } }),
    configDir: dir,
    log,
  });
  return { auth, log };
}

describe("parseTokens / isLoopbackHost", () => {
  it("one token a line, trimmed; blank lines dropped and short ones counted", () => {
    expect(parseTokens(` ${TOKEN_A} \r\n\n${TOKEN_B}\nshort\n`)).toEqual({ tokens: [TOKEN_A, TOKEN_B], short: 1 });
  });
  it("loopback is 127.0.0.0/8, ::1 and localhost; anything else is beyond", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.5", "example.com"]) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe("assertInboundPolicy", () => {
  it("auth: none beyond loopback refuses to start, naming both ways to allow it", () => {
    let error: unknown;
    try {
      assertInboundPolicy(config(), "0.0.0.0", {});
    } catch (e) {
      error = e;
    }
    expect(RuntimeError.isInstance(error) && error.code).toBe("E_A2A_UNAUTHENTICATED");
    expect(String(error)).toContain("a2a.allow_unauthenticated: true");
    expect(String(error)).toContain(`${ALLOW_UNAUTHENTICATED_ENV}=1`);
  });
  it("loopback, the config's opt-in, the env var (=1 only) and bearer all start", () => {
    expect(() => assertInboundPolicy(config(), "127.0.0.1", {})).not.toThrow();
    expect(() => assertInboundPolicy(config({ a2a: { allow_unauthenticated: true } }), "::", {})).not.toThrow();
    expect(() => assertInboundPolicy(config(), "0.0.0.0", { [ALLOW_UNAUTHENTICATED_ENV]: "1" })).not.toThrow();
    expect(() => assertInboundPolicy(config(), "0.0.0.0", { [ALLOW_UNAUTHENTICATED_ENV]: "true" })).toThrow();
    expect(() => assertInboundPolicy(config({ a2a: { auth: "bearer" } }), "0.0.0.0", {})).not.toThrow();
  });
});

describe("createInboundAuth", () => {
  it("bearer accepts every token of the file, one caller per token; refuses missing, wrong, short and other schemes", async () => {
    const { auth, log } = await bearer(`${TOKEN_A}\n${TOKEN_B}\n`);
    const a = await auth.check(`Bearer ${TOKEN_A}`);
    const b = await auth.check(`bearer ${TOKEN_B}`);
    expect(a.ok && b.ok).toBe(true);
    expect(a.ok && b.ok && a.caller !== b.caller && a.caller !== undefined).toBe(true);
    for (const header of [undefined, "", "Bearer x", `Bearer ${TOKEN_A}x`, `Basic ${TOKEN_A}`, `Bearer ${TOKEN_A} y`]) {
      expect(await auth.check(header)).toEqual({ ok: false });
    }
    expect(log.lines.join("\n")).not.toContain(TOKEN_A);
  });

  it("re-reads the file when it changes (a rotation), keeps the last tokens while it cannot be read", async () => {
    const { auth, log } = await bearer(`${TOKEN_A}\n`);
    expect((await auth.check(`Bearer ${TOKEN_A}`)).ok).toBe(true);
    // A mounted Secret is swapped, not edited: write beside it and rename over it.
    await writeFile(join(dir, "tokens.new"), `${TOKEN_B}\n`);
    await rename(join(dir, "tokens.new"), join(dir, "tokens"));
    expect((await auth.check(`Bearer ${TOKEN_B}`)).ok).toBe(true);
    expect((await auth.check(`Bearer ${TOKEN_A}`)).ok).toBe(false);
    await rm(join(dir, "tokens"));
    expect((await auth.check(`Bearer ${TOKEN_B}`)).ok).toBe(true);
    expect((await auth.check(`Bearer ${TOKEN_B}`)).ok).toBe(true);
    expect(log.lines.filter((l) => l.includes("a2a.auth_tokens_unreadable"))).toHaveLength(1);
    expect(log.lines.join("\n")).not.toMatch(/token-[ab]-/);
  });

  it("refuses to start without a usable file (E_A2A_AUTH_TOKEN_FILE), quoting no token", async () => {
    const missing = createInboundAuth({
      config: config({ a2a: { auth: "bearer" } }),
      configDir: dir,
      log: captureLog(),
    });
    await expect(missing).rejects.toMatchObject({ code: "E_A2A_AUTH_TOKEN_FILE" });
    const short = bearer("short\n");
    await expect(short).rejects.toMatchObject({ code: "E_A2A_AUTH_TOKEN_FILE" });
  });

  it("none lets everyone in as the same caller", async () => {
    const auth = await createInboundAuth({ config: config(), configDir: dir, log: captureLog() });
    expect(await auth.check(undefined)).toEqual({ ok: true, caller: undefined });
  });
});

/** A service on the real task registry whose turn answers at once. */
function service(): A2AService {
  const registry = createTaskRegistry();
  return {
    streaming: true,
    async start(request) {
      const id = randomUUID();
      const contextId = request.contextId ?? "workspace-default";
      const owner = request.owner !== undefined ? { owner: request.owner } : {};
      const task = registry.create({ id, contextId, text: request.text, messageId: request.messageId ?? id, ...owner });
      registry.transition(id, "working");
      registry.transition(id, "completed", { reply: `echo: ${request.text}` });
      return { ok: true, task };
    },
    get: (id) => registry.get(id),
    cancel: () => ({ ok: false, error: { code: RPC.TASK_NOT_CANCELABLE, message: "ended" } }),
    ended: (id) => registry.ended(id),
    subscribe: (id, listener) => registry.subscribe(id, listener),
  };
}

async function serve(auth: InboundAuth, card: Record<string, unknown> = {}): Promise<string> {
  const created = createHttpServer({
    a2a: service(),
    auth,
    card: () => card,
    livez: () => ({ ok: true, body: { ok: true } }),
    readyz: async () => ({ ok: true, body: { ready: true } }),
    metrics: async () => ({ contentType: "text/plain", body: "up 1\n" }),
    onError: () => undefined,
  });
  server = created;
  await new Promise<void>((r) => created.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}`;
}

const post = (base: string, body: unknown, token?: string) =>
  fetch(`${base}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
const send = (text: string, contextId?: string) => ({
  jsonrpc: "2.0",
  id: 1,
  method: "message/send",
  params: {
    message: {
      kind: "message",
      role: "user",
      messageId: randomUUID(),
      ...(contextId ? { contextId } : {}),
      parts: [{ kind: "text", text }],
    },
  },
});

describe("the HTTP server with a2a.auth: bearer", () => {
  it("401 + WWW-Authenticate: Bearer without a valid token; card and probes stay open; /metrics open by default", async () => {
    const { auth } = await bearer(`${TOKEN_A}\n`);
    const base = await serve(auth);
    for (const token of [undefined, "x", TOKEN_B]) {
      const res = await post(base, send("hi"), token);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.text()).not.toContain(TOKEN_B);
    }
    expect((await post(base, send("hi"), TOKEN_A)).status).toBe(200);
    for (const path of ["/.well-known/agent-card.json", "/livez", "/readyz", "/metrics"]) {
      expect((await fetch(`${base}${path}`)).status).toBe(200);
    }
  });

  it("/metrics asks for the token with a2a.metrics_auth", async () => {
    const { auth } = await bearer(`${TOKEN_A}\n`, { metrics_auth: true });
    const base = await serve(auth);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN_A}` } });
    expect(await ok.text()).toBe("up 1\n");
  });

  it("a task is visible (tasks/get, tasks/cancel) only with the token that created it", async () => {
    const { auth } = await bearer(`${TOKEN_A}\n${TOKEN_B}\n`);
    const base = await serve(auth);
    const sent = (await (await post(base, send("mine"), TOKEN_A)).json()) as { result: { taskId: string } };
    const taskId = sent.result.taskId;
    const ask = async (method: string, token: string) =>
      (await (await post(base, { jsonrpc: "2.0", id: 2, method, params: { id: taskId } }, token)).json()) as {
        result?: { id: string };
        error?: { code: number };
      };
    expect((await ask("tasks/get", TOKEN_A)).result?.id).toBe(taskId);
    expect((await ask("tasks/get", TOKEN_B)).error?.code).toBe(RPC.TASK_NOT_FOUND);
    expect((await ask("GetTask", TOKEN_B)).error?.code).toBe(RPC.TASK_NOT_FOUND);
    expect((await ask("tasks/cancel", TOKEN_B)).error?.code).toBe(RPC.TASK_NOT_FOUND);
    expect((await ask("tasks/cancel", TOKEN_A)).error?.code).toBe(RPC.TASK_NOT_CANCELABLE);
  });
});

describe("conversations with a2a.auth: bearer", () => {
  it("each caller has its own default conversation; another caller's contextId is refused", async () => {
    const { auth } = await bearer(`${TOKEN_A}\n${TOKEN_B}\n`);
    const base = await serve(auth);
    type Answer = { result?: { contextId: string }; error?: { code: number; message: string } };
    const say = async (token: string, contextId?: string) =>
      (await (await post(base, send("hi", contextId), token)).json()) as Answer;
    const a = (await say(TOKEN_A)).result?.contextId;
    const b = (await say(TOKEN_B)).result?.contextId;
    expect(a).toMatch(/^caller-[0-9a-f]{24}$/);
    expect(b).toMatch(/^caller-[0-9a-f]{24}$/);
    expect(a).not.toBe(b);
    expect((await say(TOKEN_A)).result?.contextId).toBe(a); // the same conversation next time
    expect(`${a}${b}`).not.toContain(TOKEN_A.slice(0, 8));
    const refused = await say(TOKEN_B, a);
    expect(refused.error?.code).toBe(RPC.INVALID_PARAMS);
    expect(refused.error?.message).toContain("another caller");
    const mine = `ctx-${randomUUID()}`;
    expect((await say(TOKEN_A, mine)).result?.contextId).toBe(mine);
    expect((await say(TOKEN_B, mine)).error?.code).toBe(RPC.INVALID_PARAMS);
  });

  it("with auth: none every caller shares the workspace's conversations, as before", async () => {
    const auth = await createInboundAuth({ config: config(), configDir: dir, log: captureLog() });
    const base = await serve(auth);
    const answer = (await (await post(base, send("hi"))).json()) as { result?: { contextId: string } };
    expect(answer.result?.contextId).toBe("workspace-default");
  });
});

describe("the agent card", () => {
  it("declares bearer for v0.3 (securitySchemes + security) and v1.0 (httpAuthSecurityScheme + securityRequirements)", () => {
    const card = agentCard(config({ a2a: { auth: "bearer", auth_token_file: "t" } }), "http://x/");
    expect(card.securitySchemes).toEqual({
      bearer: expect.objectContaining({
        type: "http",
        scheme: "bearer",
        httpAuthSecurityScheme: expect.objectContaining({ scheme: "Bearer" }),
      }),
    });
    expect(card.security).toEqual([{ bearer: [] }]);
    expect(card.securityRequirements).toEqual([{ schemes: { bearer: { list: [] } } }]);
    expect(agentCard(config(), "http://x/")).not.toHaveProperty("securitySchemes");
  });
});
