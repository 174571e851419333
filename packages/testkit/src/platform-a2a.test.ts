import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestPlatform, TestkitError, type TestPlatform } from "./index.js";

/** A workspace's A2A server: records each request and answers it when the test says so. */
interface Agent {
  url: string;
  requests: Array<{ headers: IncomingMessage["headers"]; body: Record<string, unknown> }>;
  pending: Array<(status: number, body: unknown) => void>;
  close(): Promise<void>;
}

async function startAgent(): Promise<Agent> {
  const requests: Agent["requests"] = [];
  const pending: Agent["pending"] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      pending.push((status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    requests,
    pending,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let platform: TestPlatform;
let agent: Agent;
let id: string;

async function register(url: string): Promise<string> {
  const res = await fetch(`${platform.url}/registry/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, url, agent_card: { name: "worker", url } }),
  });
  const body = (await res.json()) as { auth_token: string };
  return body.auth_token;
}

const messageReply = (rpcId: unknown, text: string) => ({
  jsonrpc: "2.0",
  id: rpcId,
  result: { kind: "message", role: "agent", messageId: "a1", parts: [{ kind: "text", text }] },
});

beforeEach(async () => {
  platform = await startTestPlatform();
  agent = await startAgent();
  id = randomUUID();
});
afterEach(async () => {
  await platform.close();
  await agent.close();
});

describe("POST /workspaces/:id/a2a forwards to the workspace by default", () => {
  it("holds the request until the workspace answers, sends only Content-Type, and relays the answer", async () => {
    const token = await register(agent.url);
    const rpc = {
      jsonrpc: "2.0",
      id: "r1",
      method: "message/send",
      params: { message: { role: "user", messageId: "m1", parts: [{ kind: "text", text: "hello" }] } },
    };
    let answered = false;
    const pending = fetch(`${platform.url}/workspaces/${id}/a2a`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-workspace-id": id },
      body: JSON.stringify(rpc),
    }).then(async (res) => {
      answered = true;
      return { status: res.status, body: await res.json() };
    });
    await platform.control.waitFor(() => agent.pending.length === 1);
    expect(answered).toBe(false); // held while the turn runs
    expect(agent.requests[0]?.body).toEqual(rpc);
    expect(agent.requests[0]?.headers.authorization).toBeUndefined();
    expect(agent.requests[0]?.headers["x-workspace-id"]).toBeUndefined();
    agent.pending[0]?.(200, messageReply("r1", "hi there"));
    expect(await pending).toEqual({ status: 200, body: messageReply("r1", "hi there") });
    expect(platform.control.a2aCalls(id).map((c) => c.status)).toEqual([200]);
  });

  it("sendMessage resolves with the reply text and passes contextId", async () => {
    await register(agent.url);
    const reply = platform.sendMessage(id, "what is 2+2?", { contextId: "ctx-7" });
    await platform.control.waitFor(() => agent.pending.length === 1);
    const sent = agent.requests[0]?.body as { id: unknown; params: { message: Record<string, unknown> } };
    expect(sent.params.message).toMatchObject({
      role: "user",
      contextId: "ctx-7",
      parts: [{ kind: "text", text: "what is 2+2?" }],
    });
    agent.pending[0]?.(200, messageReply(sent.id, "4"));
    expect(await reply).toBe("4");
    expect(platform.control.a2aCalls(id)[0]?.auth).toBe("ok"); // with the workspace's live token
  });

  it("sendMessage rejects with E_TESTKIT_A2A_FAILED on a JSON-RPC error", async () => {
    await register(agent.url);
    const reply = platform.sendMessage(id, "fail please").catch((e: unknown) => e);
    await platform.control.waitFor(() => agent.pending.length === 1);
    const sent = agent.requests[0]?.body as { id: unknown };
    agent.pending[0]?.(200, { jsonrpc: "2.0", id: sent.id, error: { code: -32000, message: "turn failed" } });
    const error = await reply;
    expect(TestkitError.isInstance(error) && error.code).toBe("E_TESTKIT_A2A_FAILED");
    expect((error as Error).message).toContain("turn failed");
  });

  it("503 for a workspace without a registered URL, 502 when the URL cannot be reached", async () => {
    platform.control.seed(id);
    platform.control.rotateToken(id);
    await expect(platform.sendMessage(id, "x")).rejects.toThrow(/HTTP 503/);
    await agent.close();
    id = randomUUID();
    await register(agent.url);
    await expect(platform.sendMessage(id, "x")).rejects.toThrow(/HTTP 502 .*cannot reach the workspace/);
  });

  it("the canned modes stay available per workspace or for the whole platform", async () => {
    await register(agent.url);
    platform.control.setA2aMode(id, "reply");
    expect(await platform.sendMessage(id, "x")).toBe("ok");
    expect(agent.requests).toHaveLength(0);
    const canned = await startTestPlatform({ a2aMode: "reply" });
    try {
      const other = randomUUID();
      await fetch(`${canned.url}/registry/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: other, url: agent.url, agent_card: { name: "w" } }),
      });
      expect(await canned.sendMessage(other, "x")).toBe("ok");
      expect(agent.requests).toHaveLength(0);
    } finally {
      await canned.close();
    }
  });

  it("close() ends a forward still waiting for the workspace", async () => {
    await register(agent.url);
    const reply = platform.sendMessage(id, "long turn").catch((e: unknown) => e);
    await platform.control.waitFor(() => agent.pending.length === 1);
    await platform.close();
    expect(await reply).toBeInstanceOf(Error);
  });
});
