import { describe, expect, it } from "vitest";
import { type A2AHandler, handleRpc, RPC } from "./a2a.js";

function handler(overrides: Partial<A2AHandler> = {}): A2AHandler & { sent: Array<{ taskId: string; text: string }> } {
  const sent: Array<{ taskId: string; text: string }> = [];
  return {
    sent,
    async send(input) {
      sent.push(input);
      return { ok: true, text: `echo: ${input.text}` };
    },
    cancel: () => false,
    ...overrides,
  };
}

const send = (method: string, params: unknown, id: unknown = "1") =>
  JSON.stringify({ jsonrpc: "2.0", id, method, params });

describe("handleRpc", () => {
  it("answers message/send (v0.3) with an agent message of kind text parts", async () => {
    const h = handler();
    const res = await handleRpc(
      send("message/send", { message: { role: "user", messageId: "m-1", parts: [{ kind: "text", text: "hi" }] } }),
      h,
    );
    expect(res.id).toBe("1");
    expect(res.result).toMatchObject({
      kind: "message",
      role: "agent",
      taskId: "m-1",
      parts: [{ kind: "text", text: "echo: hi" }],
    });
    expect(h.sent).toEqual([{ taskId: "m-1", text: "hi" }]);
  });

  it("accepts SendMessage (v1.0) with plain text parts", async () => {
    const res = await handleRpc(
      send(
        "SendMessage",
        { message: { role: "ROLE_USER", messageId: "m-2", parts: [{ text: "a" }, { text: "b" }] } },
        7,
      ),
      handler(),
    );
    expect(res.id).toBe(7);
    expect((res.result as { parts: Array<{ text: string }> }).parts[0]?.text).toBe("echo: a\nb");
  });

  it("parse error, invalid request, unknown method and bad params each get their code", async () => {
    expect((await handleRpc("{nope", handler())).error?.code).toBe(RPC.PARSE_ERROR);
    expect((await handleRpc(JSON.stringify({ id: 1, method: "x" }), handler())).error?.code).toBe(RPC.INVALID_REQUEST);
    const unknown = await handleRpc(send("tasks/resubscribe", {}), handler());
    expect(unknown.error?.code).toBe(RPC.METHOD_NOT_FOUND);
    expect((await handleRpc(send("message/send", { message: { parts: [] } }), handler())).error?.code).toBe(
      RPC.INVALID_PARAMS,
    );
    expect((await handleRpc(send("message/send", null), handler())).error?.code).toBe(RPC.INVALID_PARAMS);
    const noText = await handleRpc(
      send("message/send", { message: { parts: [{ kind: "file", file: {} }] } }),
      handler(),
    );
    expect(noText.error?.code).toBe(RPC.INVALID_PARAMS);
  });

  it("a failed turn is a JSON-RPC error with the handler's safe message and outcome", async () => {
    const res = await handleRpc(
      send("message/send", { message: { messageId: "m", parts: [{ kind: "text", text: "x" }] } }),
      handler({
        send: async () => ({
          ok: false,
          code: RPC.TURN_FAILED,
          message: "agent is not logged in",
          data: { outcome: "auth" },
        }),
      }),
    );
    expect(res.error).toEqual({ code: RPC.TURN_FAILED, message: "agent is not logged in", data: { outcome: "auth" } });
  });

  it("tasks/cancel reports whether a task was cancelled", async () => {
    const cancelled: Array<string | undefined> = [];
    const h = handler({
      cancel: (id) => {
        cancelled.push(id);
        return id === "t-1";
      },
    });
    expect((await handleRpc(send("tasks/cancel", { id: "t-1" }), h)).result).toMatchObject({
      status: { state: "canceled" },
    });
    expect((await handleRpc(send("tasks/cancel", { id: "t-2" }), h)).error?.code).toBe(RPC.TASK_NOT_FOUND);
    expect(cancelled).toEqual(["t-1", "t-2"]);
  });
});
