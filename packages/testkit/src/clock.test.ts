import { describe, expect, it } from "vitest";
import { createFakeClock } from "./index.js";

describe("createFakeClock", () => {
  it("starts at the given time and moves only when advanced", async () => {
    const clock = createFakeClock(1_000);
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it("runs due timers in due order, each at its own time, ties in the order set", async () => {
    const clock = createFakeClock(0);
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(["b", clock.now()]), 200);
    clock.setTimeout(() => seen.push(["a", clock.now()]), 100);
    clock.setTimeout(() => seen.push(["c", clock.now()]), 200);
    clock.setTimeout(() => seen.push(["late", clock.now()]), 301);
    await clock.advance(300);
    expect(seen).toEqual([
      ["a", 100],
      ["b", 200],
      ["c", 200],
    ]);
    expect(clock.pending()).toBe(1);
    expect(clock.nextDueAt()).toBe(301);
  });

  it("runs timers set by timers when they fall due within the same advance", async () => {
    const clock = createFakeClock(0);
    const ticks: number[] = [];
    const loop = () => {
      ticks.push(clock.now());
      clock.setTimeout(loop, 30);
    };
    clock.setTimeout(loop, 30);
    await clock.advance(100);
    expect(ticks).toEqual([30, 60, 90]);
  });

  it("lets promises chained off a timer settle before the next one runs", async () => {
    const clock = createFakeClock(0);
    const order: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => order.push("first's promise"));
    }, 10);
    clock.setTimeout(() => order.push("second timer"), 20);
    await clock.advance(20);
    expect(order).toEqual(["first's promise", "second timer"]);
  });

  it("clearTimeout cancels, and unknown handles are ignored", async () => {
    const clock = createFakeClock(0);
    let ran = false;
    const handle = clock.setTimeout(() => {
      ran = true;
    }, 10);
    clock.clearTimeout(handle);
    clock.clearTimeout(undefined);
    clock.clearTimeout(42);
    await clock.advance(100);
    expect(ran).toBe(false);
    expect(clock.pending()).toBe(0);
  });

  it("treats a negative or NaN delay as zero and refuses to go backwards", async () => {
    const clock = createFakeClock(5);
    let at = -1;
    clock.setTimeout(() => {
      at = clock.now();
    }, Number.NaN);
    await clock.advance(0);
    expect(at).toBe(5);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
  });
});
