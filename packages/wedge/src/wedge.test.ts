import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  clearWedge,
  createWedgeScope,
  isWedged,
  markWedged,
  onWedgeChange,
  setWedgeLogger,
  WedgeError,
  type WedgeState,
  wedgeReason,
  wedgeState,
} from "./index.js";
import { resetWedgeForTests } from "./test.js";

beforeEach(() => resetWedgeForTests());
afterEach(() => resetWedgeForTests());

describe("markWedged / clearWedge", () => {
  it("starts healthy", () => {
    expect(isWedged()).toBe(false);
    expect(wedgeReason()).toBe("");
    expect(wedgeState()).toEqual({ wedged: false, reason: "" });
  });

  it("marks the process wedged with reason, code and time", () => {
    const before = Date.now();
    markWedged("claude-code init timeout — restart workspace", { code: "E_AGENT_INIT_TIMEOUT" });
    expect(isWedged()).toBe(true);
    expect(wedgeReason()).toBe("claude-code init timeout — restart workspace");
    const state = wedgeState();
    expect(state.wedged).toBe(true);
    expect(state.code).toBe("E_AGENT_INIT_TIMEOUT");
    expect(state.since).toBeInstanceOf(Date);
    expect(state.since?.getTime()).toBeGreaterThanOrEqual(before);
  });

  it("first write wins: a later mark while wedged changes nothing", () => {
    markWedged("first");
    const since = wedgeState().since;
    markWedged("second", { code: "E_OTHER" });
    expect(wedgeReason()).toBe("first");
    expect(wedgeState().code).toBeUndefined();
    expect(wedgeState().since).toEqual(since);
  });

  it("clear when healthy is a no-op that fires nothing", () => {
    const listener = vi.fn();
    onWedgeChange(listener);
    clearWedge();
    expect(listener).not.toHaveBeenCalled();
    expect(isWedged()).toBe(false);
  });

  it("can be marked again after a clear, with the new reason", () => {
    markWedged("first");
    clearWedge();
    expect(isWedged()).toBe(false);
    markWedged("second");
    expect(wedgeReason()).toBe("second");
  });

  it.each(["", "   ", "\n\t"])("refuses an empty reason %j with E_WEDGE_EMPTY_REASON", (reason) => {
    let caught: unknown;
    try {
      markWedged(reason);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(WedgeError.isInstance(caught)).toBe(true);
    expect((caught as WedgeError).code).toBe("E_WEDGE_EMPTY_REASON");
    expect(isWedged()).toBe(false);
  });

  it("refuses a non-string reason from untyped callers", () => {
    expect(() => markWedged(undefined as unknown as string)).toThrow(
      expect.objectContaining({ code: "E_WEDGE_EMPTY_REASON" }),
    );
  });

  it("cuts a reason longer than 200 characters to 200 plus an ellipsis", () => {
    markWedged("x".repeat(500));
    expect(wedgeReason()).toBe(`${"x".repeat(200)}…`);
    expect(Array.from(wedgeReason())).toHaveLength(201);
  });

  it("keeps a reason of exactly 200 characters whole and never splits a surrogate pair", () => {
    markWedged("y".repeat(200));
    expect(wedgeReason()).toBe("y".repeat(200));
    clearWedge();
    markWedged("😀".repeat(300));
    expect(wedgeReason()).toBe(`${"😀".repeat(200)}…`);
  });
});

describe("onWedgeChange", () => {
  it("fires exactly once per transition, synchronously, with the new state", () => {
    const seen: WedgeState[] = [];
    onWedgeChange((state) => seen.push(state));
    markWedged("stuck");
    expect(seen).toHaveLength(1); // synchronous: already delivered
    markWedged("stuck again");
    clearWedge();
    clearWedge();
    expect(seen.map((s) => [s.wedged, s.reason])).toEqual([
      [true, "stuck"],
      [false, ""],
    ]);
  });

  it("sees the state already changed when it runs", () => {
    let inside: boolean | undefined;
    onWedgeChange(() => {
      inside = isWedged();
    });
    markWedged("stuck");
    expect(inside).toBe(true);
  });

  it("a listener that throws breaks neither the other listeners nor the caller, and is logged", () => {
    const warn = vi.fn();
    setWedgeLogger({ warn, info: vi.fn() });
    const after = vi.fn();
    onWedgeChange(() => {
      throw new Error("listener bug");
    });
    onWedgeChange(after);
    expect(() => markWedged("stuck")).not.toThrow();
    expect(after).toHaveBeenCalledTimes(1);
    expect(isWedged()).toBe(true);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ event: "wedge.listener_failed", err: "listener bug" }),
      expect.any(String),
    );
  });

  it("unsubscribe stops delivery, and only for that subscription", () => {
    const a = vi.fn();
    const b = vi.fn();
    const offA = onWedgeChange(a);
    onWedgeChange(b);
    offA();
    offA();
    markWedged("stuck");
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
  });

  it("the same function subscribed twice is called twice until each is unsubscribed", () => {
    const fn = vi.fn();
    const off1 = onWedgeChange(fn);
    onWedgeChange(fn);
    markWedged("stuck");
    expect(fn).toHaveBeenCalledTimes(2);
    off1();
    clearWedge();
    expect(fn).toHaveBeenCalledTimes(3);
  });

  it("a listener may unsubscribe itself while being called", () => {
    const calls: string[] = [];
    const off = onWedgeChange(() => {
      calls.push("self");
      off();
    });
    onWedgeChange(() => calls.push("other"));
    markWedged("stuck");
    clearWedge();
    expect(calls).toEqual(["self", "other", "other"]);
  });
});

describe("createWedgeScope", () => {
  it("module-level functions act on the default scope", () => {
    const defaultScope = createWedgeScope("default");
    markWedged("via module");
    expect(defaultScope.isWedged()).toBe(true);
    defaultScope.clear();
    expect(isWedged()).toBe(false);
  });

  it("the process is wedged while any scope is, with the earliest still-wedged scope's reason", () => {
    const a = createWedgeScope("executor-a");
    const b = createWedgeScope("executor-b");
    a.mark("a is stuck", { code: "E_A" });
    b.mark("b is stuck");
    expect(wedgeReason()).toBe("a is stuck");
    expect(wedgeState().code).toBe("E_A");
    a.clear();
    expect(isWedged()).toBe(true);
    expect(wedgeReason()).toBe("b is stuck");
    expect(a.isWedged()).toBe(false);
    expect(a.reason()).toBe("");
    expect(b.reason()).toBe("b is stuck");
    b.clear();
    expect(isWedged()).toBe(false);
  });

  it("a scope re-marked after clearing goes behind the scopes still wedged", () => {
    const a = createWedgeScope("a");
    const b = createWedgeScope("b");
    a.mark("a1");
    b.mark("b1");
    a.clear();
    a.mark("a2");
    expect(wedgeReason()).toBe("b1");
  });

  it("listeners get the aggregate and fire only when it changes", () => {
    const seen: Array<[boolean, string]> = [];
    onWedgeChange((s) => seen.push([s.wedged, s.reason]));
    const a = createWedgeScope("a");
    const b = createWedgeScope("b");
    a.mark("a stuck");
    b.mark("b stuck"); // aggregate unchanged: a is still the earliest
    b.clear(); // unchanged again
    b.mark("b stuck");
    a.clear(); // reason moves to b
    b.clear();
    expect(seen).toEqual([
      [true, "a stuck"],
      [true, "b stuck"],
      [false, ""],
    ]);
  });

  it("first write wins per scope, and two handles on one name share it", () => {
    const one = createWedgeScope("exec");
    const two = createWedgeScope("exec");
    one.mark("first");
    two.mark("second");
    expect(two.reason()).toBe("first");
    two.clear();
    expect(one.isWedged()).toBe(false);
  });

  it("a scope's own state carries its code and time", () => {
    const a = createWedgeScope("a");
    expect(a.state()).toEqual({ wedged: false, reason: "" });
    a.mark("stuck", { code: "E_X" });
    expect(a.state()).toMatchObject({ wedged: true, reason: "stuck", code: "E_X" });
    expect(a.name).toBe("a");
  });

  it("refuses an empty scope name and an empty reason", () => {
    expect(() => createWedgeScope(" ")).toThrow(expect.objectContaining({ code: "E_WEDGE_BAD_SCOPE" }));
    expect(() => createWedgeScope("a").mark("")).toThrow(expect.objectContaining({ code: "E_WEDGE_EMPTY_REASON" }));
  });
});

describe("logging", () => {
  it("is silent by default and reports transitions to an injected logger", () => {
    const warn = vi.fn();
    const info = vi.fn();
    markWedged("before logger");
    clearWedge();
    setWedgeLogger({ warn, info });
    markWedged("stuck", { code: "E_S" });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({ event: "wedge.marked", reason: "stuck", code: "E_S" });
    clearWedge();
    expect(info).toHaveBeenCalledWith(expect.objectContaining({ event: "wedge.cleared" }), expect.any(String));
    setWedgeLogger(undefined);
    markWedged("after logger");
    expect(warn).toHaveBeenCalledTimes(1);
  });
});

describe("resetWedgeForTests", () => {
  it("returns to healthy without firing and drops listeners", () => {
    const fn = vi.fn();
    markWedged("stuck");
    onWedgeChange(fn);
    resetWedgeForTests();
    expect(isWedged()).toBe(false);
    expect(fn).not.toHaveBeenCalled();
    markWedged("again");
    expect(fn).not.toHaveBeenCalled();
  });
});

describe("shared state on globalThis", () => {
  it("lives under Symbol.for('@molecule/wedge') with a versioned shape and v1 mirror fields", () => {
    markWedged("stuck", { code: "E_S" });
    const raw = (globalThis as Record<symbol, unknown>)[Symbol.for("@molecule/wedge")] as Record<string, unknown>;
    expect(raw.version).toBe(2);
    expect(raw.wedged).toBe(true);
    expect(raw.reason).toBe("stuck");
    expect(raw.code).toBe("E_S");
    clearWedge();
    expect(raw.wedged).toBe(false);
    expect(raw.reason).toBe("");
  });
});
