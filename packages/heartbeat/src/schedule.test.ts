import { describe, expect, it } from "vitest";
import { backoffDelayMs, checkPhase, nextBeatDelayMs, parseRetryAfterMs, spreadDelayMs } from "./schedule.js";
import { seeded } from "./test-support.js";

describe("nextBeatDelayMs", () => {
  it("jitter 0 gives an exact period", () => {
    for (let beat = 1; beat < 5; beat += 1) expect(nextBeatDelayMs(beat, 30_000, 0, () => 0.9)).toBe(30_000);
  });

  it("the second beat lands uniformly in [0, interval): 1,000 instances spread over the whole interval", () => {
    const random = seeded(42);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 1_000; i += 1) {
      const delay = nextBeatDelayMs(1, 30_000, 0.1, random);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(30_000);
      buckets[Math.floor(delay / 3_000)] = (buckets[Math.floor(delay / 3_000)] ?? 0) + 1;
    }
    // every tenth of the interval gets its share (100 expected; a lock-step fleet would put 1,000 in one)
    for (const count of buckets) expect(count).toBeGreaterThan(60);
  });

  it("later beats are interval × (1 ± jitter)", () => {
    expect(nextBeatDelayMs(2, 30_000, 0.1, () => 0)).toBe(27_000);
    expect(nextBeatDelayMs(2, 30_000, 0.1, () => 0.5)).toBe(30_000);
    expect(nextBeatDelayMs(7, 30_000, 0.1, () => 0.999_999)).toBeCloseTo(33_000, 0);
  });
});

describe("spreadDelayMs and checkPhase", () => {
  it("jitter 0 is exact timing: no offset, check phase 0", () => {
    expect(spreadDelayMs(30_000, 0, () => 0.7)).toBe(0);
    expect(checkPhase(5, 0, () => 0.7)).toBe(0);
    expect(checkPhase(1, 0.1, () => 0.7)).toBe(0);
  });

  it("1,000 loops' offsets cover [0, interval) and their check phases cover [0, n)", () => {
    const random = seeded(9);
    const tenths = new Array<number>(10).fill(0);
    const phases = new Array<number>(5).fill(0);
    for (let i = 0; i < 1_000; i += 1) {
      const delay = spreadDelayMs(30_000, 0.1, random);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(30_000);
      tenths[Math.floor(delay / 3_000)] = (tenths[Math.floor(delay / 3_000)] ?? 0) + 1;
      const phase = checkPhase(5, 0.1, random);
      expect(Number.isInteger(phase) && phase >= 0 && phase < 5).toBe(true);
      phases[phase] = (phases[phase] ?? 0) + 1;
    }
    for (const count of tenths) expect(count).toBeGreaterThan(60);
    for (const count of phases) expect(count).toBeGreaterThan(140);
  });
});

describe("backoffDelayMs", () => {
  it("follows min(interval, 1000 × 2^(n−1)) exactly without jitter", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelayMs(n, 30_000, 0, Math.random));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("applies (1 ± jitter) to the capped value", () => {
    expect(backoffDelayMs(1, 30_000, 0.1, () => 0)).toBe(900);
    expect(backoffDelayMs(3, 30_000, 0.1, () => 0.5)).toBe(4_000);
    expect(backoffDelayMs(10, 30_000, 0.1, () => 0)).toBe(27_000);
  });

  it("never waits less than 1 s × (1 − jitter) (no hot loop), even for n ≤ 0", () => {
    expect(backoffDelayMs(0, 30_000, 0, Math.random)).toBe(1_000);
    expect(backoffDelayMs(-3, 30_000, 0, Math.random)).toBe(1_000);
  });

  it("honours a larger Retry-After, but never beyond the interval", () => {
    expect(backoffDelayMs(1, 30_000, 0, Math.random, 5_000)).toBe(5_000);
    expect(backoffDelayMs(1, 30_000, 0, Math.random, 120_000)).toBe(30_000);
    expect(backoffDelayMs(4, 30_000, 0, Math.random, 2_000)).toBe(8_000); // smaller: the formula wins
  });
});

describe("parseRetryAfterMs", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfterMs("7", 0)).toBe(7_000);
    expect(parseRetryAfterMs(["2"], 0)).toBe(2_000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfterMs("soon", 0)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, 0)).toBeUndefined();
  });
});
