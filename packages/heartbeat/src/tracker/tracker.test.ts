import { createFakeClock } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import type { TurnOutcome } from "../types.js";
import { createTaskTracker, isCountedOutcome } from "./tracker.js";

describe("createTaskTracker", () => {
  it("is idle and healthy when nothing ran", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    expect(tracker.snapshot()).toEqual({ active: 0, currentLabel: "", errorRate: 0, sampleError: "" });
  });

  it("tracks running tasks; the label is the most recent still-running task's", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    const doneA = tracker.start("task A");
    const doneB = tracker.start("task B");
    expect(tracker.snapshot()).toMatchObject({ active: 2, currentLabel: "task B" });
    doneB("ok");
    expect(tracker.snapshot()).toMatchObject({ active: 1, currentLabel: "task A" });
    doneA("ok");
    expect(tracker.snapshot()).toMatchObject({ active: 0, currentLabel: "" });
  });

  it("an operator label wins over the tasks' labels until cleared", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    tracker.start("task A");
    tracker.setLabel("maintenance");
    expect(tracker.snapshot().currentLabel).toBe("maintenance");
    tracker.setLabel();
    expect(tracker.snapshot().currentLabel).toBe("task A");
  });

  it("done() counts only once", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    const done = tracker.start("x");
    done("crash");
    done("ok");
    done("crash");
    expect(tracker.snapshot()).toMatchObject({ active: 0, errorRate: 1 });
  });

  it("error_rate = counted failures / finished turns in the rolling 60 s window", async () => {
    const clock = createFakeClock(1_000_000);
    const tracker = createTaskTracker({ clock });
    tracker.start("a")("timeout", "agent did not answer in 600 s");
    await clock.advance(10_000);
    tracker.start("b")("ok");
    tracker.start("c")("ok");
    tracker.start("d")("bad-request");
    expect(tracker.snapshot().errorRate).toBe(0.25);
    expect(tracker.snapshot().sampleError).toBe("agent did not answer in 600 s");
    await clock.advance(50_000); // the timeout is now exactly 60 s old: out of the window
    expect(tracker.snapshot()).toMatchObject({ errorRate: 0, sampleError: "" });
    await clock.advance(10_000); // everything is out
    expect(tracker.snapshot().errorRate).toBe(0);
  });

  it("counts exactly the outcomes the error window counts (docs/ARCHITECTURE.md), auth included", () => {
    const counted: TurnOutcome[] = ["auth", "wedged", "agent-error", "timeout", "crash", "rate-limited"];
    const notCounted: TurnOutcome[] = ["ok", "bad-request", "cancelled", "busy"];
    for (const outcome of counted) {
      const tracker = createTaskTracker({ clock: createFakeClock(0) });
      tracker.start("t")(outcome);
      expect([outcome, tracker.snapshot().errorRate]).toEqual([outcome, 1]);
      expect(isCountedOutcome(outcome)).toBe(true);
    }
    for (const outcome of notCounted) {
      const tracker = createTaskTracker({ clock: createFakeClock(0) });
      tracker.start("t")(outcome);
      expect([outcome, tracker.snapshot().errorRate]).toEqual([outcome, 0]);
      expect(isCountedOutcome(outcome)).toBe(false);
    }
  });

  it("the sample error is the most recent counted failure, its outcome when no text was given", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    tracker.start("a")("crash", "first");
    tracker.start("b")("auth");
    tracker.start("c")("cancelled", "not an error");
    expect(tracker.snapshot().sampleError).toBe("auth");
  });

  it("onChange fires on start, end and label change; unsubscribe stops it", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    let calls = 0;
    const off = tracker.onChange(() => {
      calls += 1;
    });
    const done = tracker.start("a");
    tracker.setLabel("op");
    tracker.setLabel("op"); // unchanged: no event
    done("ok");
    expect(calls).toBe(3);
    off();
    tracker.start("b");
    expect(calls).toBe(3);
  });

  it("a throwing listener does not break the turn that reported", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    let after = 0;
    tracker.onChange(() => {
      throw new Error("listener bug");
    });
    tracker.onChange(() => {
      after += 1;
    });
    expect(() => tracker.start("a")("ok")).not.toThrow();
    expect(after).toBe(2);
  });

  it("labels are one line of at most 200 characters", () => {
    const tracker = createTaskTracker({ clock: createFakeClock(0) });
    tracker.start(`line one\nline two ${"x".repeat(300)}`);
    const label = tracker.snapshot().currentLabel;
    expect(label).not.toContain("\n");
    expect(label.startsWith("line one line two")).toBe(true);
    expect(Array.from(label)).toHaveLength(201);
  });
});
