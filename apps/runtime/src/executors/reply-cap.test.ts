import { describe, expect, it } from "vitest";
import { capReply, cutMarker, cutToBytes, HeadTail, LatestTexts, ReplyPieces } from "./reply-cap.js";
import { StdoutLines } from "./stdout-lines.js";

describe("cutToBytes / capReply", () => {
  it("cuts at a UTF-8 byte count, never inside a character", () => {
    expect(cutToBytes("héllo", 100)).toBe("héllo");
    expect(cutToBytes("héllo", 2)).toBe("h"); // é is 2 bytes: it does not fit after h
    expect(cutToBytes("héllo", 3)).toBe("hé");
    expect(cutToBytes("😀😀", 5)).toBe("😀");
  });

  it("keeps an answer that fits; a longer one becomes its start and the marker, within the limit", () => {
    expect(capReply("short", 2_000)).toEqual({ text: "short", cut: false });
    const long = `START${"é".repeat(5_000)}END`;
    const { text, cut } = capReply(long, 2_000);
    expect(cut).toBe(true);
    expect(text.startsWith("STARTéé")).toBe(true);
    expect(text.endsWith(cutMarker(2_000))).toBe(true);
    expect(text).not.toContain("END");
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2_000);
    expect(Buffer.byteLength(text)).toBeGreaterThan(2_000 - 2);
    // A reader that kept only a start says so: the marker even when what is left fits.
    expect(capReply("the start", 2_000, true).text).toBe(`the start${cutMarker(2_000)}`);
  });

  it("ReplyPieces caps pieces as a whole and stops keeping them past the limit", () => {
    const pieces = new ReplyPieces(1_500);
    for (let i = 0; i < 1_000; i++) pieces.append(`piece ${i} `);
    const { text, cut } = pieces.reply();
    expect(cut).toBe(true);
    expect(text.startsWith("piece 0 piece 1 ")).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1_500);
    const small = new ReplyPieces(1_500);
    small.append("Hello ");
    small.append("world");
    expect(small.reply()).toEqual({ text: "Hello world", cut: false });
  });
});

describe("bounded evidence", () => {
  it("LatestTexts keeps the latest items, each cut", () => {
    const texts = new LatestTexts(3, 4);
    for (const t of ["one", "two", "three", "four"]) texts.add(t);
    expect(texts.list()).toEqual(["two", "thre", "four"]);
  });

  it("HeadTail keeps a stream's start and end and says how much it left out", () => {
    const stream = new HeadTail(5, 5);
    stream.push("abc");
    expect(stream.text()).toBe("abc");
    stream.push("defgh");
    expect(stream.text()).toBe("abcdefgh");
    for (let i = 0; i < 100; i++) stream.push("0123456789");
    expect(stream.text()).toBe("abcde\n[… 998 characters left out …]\n56789");
  });
});

describe("StdoutLines", () => {
  it("gives short lines whole and a long one as bounded JSON, however the chunks fall", () => {
    const lines: string[] = [];
    const longs: { chars: number; value: unknown; head: string }[] = [];
    const split = new StdoutLines({ line: (t) => lines.push(t), long: (l) => longs.push(l) }, 100, 20);
    const big = JSON.stringify({ type: "result", result: "r".repeat(500), session_id: "s" });
    const text = `a\nb\n${big}\nnot json ${"n".repeat(300)}\nlast`;
    for (let i = 0; i < text.length; i += 33) split.push(text.slice(i, i + 33));
    split.end();
    expect(lines).toEqual(["a", "b", "last"]);
    expect(longs).toHaveLength(2);
    expect(longs[0]?.chars).toBe(big.length);
    expect(longs[0]?.value).toEqual({ type: "result", result: "r".repeat(20), session_id: "s" });
    expect(longs[1]?.value).toBeUndefined();
    expect(longs[1]?.head.startsWith("not json nnn")).toBe(true);
  });
});
