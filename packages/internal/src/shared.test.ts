import { describe, expect, it } from "vitest";
import { realClock } from "./clock.js";
import { errnoCode, errorText } from "./errno.js";
import { oneLine } from "./one-line.js";

describe("realClock", () => {
  it("fires a timer after its delay, and a cleared one never", async () => {
    const fired: string[] = [];
    const start = realClock.now();
    const cleared = realClock.setTimeout(() => fired.push("cleared"), 5);
    realClock.clearTimeout(cleared);
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 20));
    expect(fired).toEqual([]);
    expect(realClock.now() - start).toBeGreaterThanOrEqual(19);
  });

  it("unrefs its timers so a pending one never keeps the process alive", () => {
    const handle = realClock.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    try {
      expect(handle.hasRef()).toBe(false);
    } finally {
      realClock.clearTimeout(handle);
    }
  });
});

describe("errnoCode", () => {
  it("reads a string code and nothing else", () => {
    expect(errnoCode(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe("ENOENT");
    expect(errnoCode({ code: "EACCES" })).toBe("EACCES");
    expect(errnoCode({ code: 2 })).toBeUndefined();
    expect(errnoCode(new Error("plain"))).toBeUndefined();
    expect(errnoCode("ENOENT")).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
  });
});

describe("errorText", () => {
  it("prefixes the code when the message does not carry it", () => {
    expect(errorText(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(
      "ECONNRESET: socket hang up",
    );
    expect(errorText(Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" }))).toBe(
      "ENOENT: no such file",
    );
    expect(errorText(new Error("plain"))).toBe("plain");
    expect(errorText("thrown string")).toBe("thrown string");
  });
});

describe("oneLine", () => {
  it("turns control characters into single spaces and trims", () => {
    expect(oneLine("  a\n\tb\u0007c\u007f  ", 50)).toBe("a b c");
  });

  it("cuts at max characters (code points, not UTF-16 units) and marks the cut", () => {
    expect(oneLine("😀😀😀😀", 2)).toBe("😀😀…");
    expect(oneLine("abc", 3)).toBe("abc");
  });
});
