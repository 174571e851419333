import { describe, expect, it } from "vitest";
import { createTaskRegistry } from "./task-registry.js";

describe("createTaskRegistry: which task a user message started", () => {
  it("is found by context and messageId; the same messageId in another context is another message", () => {
    const registry = createTaskRegistry();
    const a = registry.create({ id: "t-a", contextId: "ctx-1", text: "hi", messageId: "m" });
    const b = registry.create({ id: "t-b", contextId: "ctx-2", text: "hi", messageId: "m" });
    expect(registry.findByMessage("ctx-1", "m")).toBe(a);
    expect(registry.findByMessage("ctx-2", "m")).toBe(b);
    expect(registry.findByMessage("ctx-3", "m")).toBeUndefined();
    // The key cannot be forged by a separator in either part.
    registry.create({ id: "t-c", contextId: "ctx", text: "hi", messageId: "1\nm" });
    expect(registry.findByMessage("ctx\n1", "m")).toBeUndefined();
    // A newer task of the same message (a new attempt after a failure) is the one found.
    registry.transition("t-a", "failed", { error: { code: -32000, message: "x" } });
    const retry = registry.create({ id: "t-a2", contextId: "ctx-1", text: "hi", messageId: "m" });
    expect(registry.findByMessage("ctx-1", "m")).toBe(retry);
  });

  it("forgets the message with its task: beyond max ended tasks the oldest go; running ones stay", () => {
    const registry = createTaskRegistry({ max: 2 });
    registry.create({ id: "t-1", contextId: "c", text: "1", messageId: "m-1" });
    registry.create({ id: "t-2", contextId: "c", text: "2", messageId: "m-2" });
    registry.create({ id: "t-3", contextId: "c", text: "3", messageId: "m-3" });
    expect(registry.findByMessage("c", "m-1")?.id).toBe("t-1"); // still running: kept
    for (const id of ["t-1", "t-2", "t-3"]) registry.transition(id, "completed", { reply: id });
    expect(registry.findByMessage("c", "m-1")).toBeUndefined();
    expect(registry.get("t-1")).toBeUndefined();
    expect(registry.findByMessage("c", "m-3")?.reply?.text).toBe("t-3");
  });
});
