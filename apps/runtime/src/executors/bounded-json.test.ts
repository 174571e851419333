import { describe, expect, it } from "vitest";
import { BoundedJsonReader } from "./bounded-json.js";

/** Feeds `text` in pieces of `size` characters (escapes and surrogate pairs land across pieces). */
function read(text: string, maxStringChars: number, size = 7, options = {}) {
  const reader = new BoundedJsonReader(maxStringChars, options);
  for (let i = 0; i < text.length; i += size) reader.feed(text.slice(i, i + size));
  return reader.end();
}

const DOCS: unknown[] = [
  { type: "result", subtype: "success", is_error: false, result: "hello", session_id: "s-1", n: -1.5e3 },
  { nested: { a: [1, 2, { b: null, c: true, d: false }], e: [] }, f: {} },
  { text: 'quote " backslash \\ slash / newline \n tab \t unicode é 😀 \u0001', 'key with " quote': 0 },
  ["top", "level", ["array"]],
  "just a string",
  42,
  { usage: { input_tokens: 3, output_tokens: 5 }, empty: "" },
];

describe("BoundedJsonReader", () => {
  it("reads what JSON.parse reads, fed in pieces of any size", () => {
    for (const doc of DOCS) {
      const text = JSON.stringify(doc);
      for (const size of [1, 2, 3, 7, 64, text.length]) {
        expect(read(text, 1_000, size)).toEqual({ value: doc, cuts: [] });
      }
    }
    expect(read('  {"a" : [ 1 , 2 ] }  ', 100, 3).value).toEqual({ a: [1, 2] });
  });

  it("cuts a long string to its start, says where, and keeps the fields after it", () => {
    const line = JSON.stringify({
      type: "result",
      result: `START${"x".repeat(100_000)}END`,
      session_id: "s-9",
      usage: { input_tokens: 7 },
    });
    const { value, cuts } = read(line, 1_000, 4096);
    expect(cuts).toEqual([["result"]]);
    const event = value as Record<string, unknown>;
    expect(event.result).toBe(`START${"x".repeat(995)}`);
    expect(event.session_id).toBe("s-9");
    expect(event.usage).toEqual({ input_tokens: 7 });
  });

  it("keeps each string as much as capFor says for its path (the answer whole, the rest as evidence)", () => {
    const line = JSON.stringify({
      tool: "t".repeat(500),
      result: "r".repeat(500),
      nested: { result: "n".repeat(500) },
    });
    const { value, cuts } = read(line, 400, 64, {
      capFor: (path: readonly (string | number)[]) => (path.join(".") === "result" ? 1_000 : 10),
    });
    expect(value).toEqual({ tool: "t".repeat(10), result: "r".repeat(400), nested: { result: "n".repeat(10) } });
    expect(cuts).toEqual([["tool"], ["result"], ["nested", "result"]]);
  });

  it("reports the path of a cut string inside arrays and objects", () => {
    const line = JSON.stringify({
      message: { content: [{ type: "text" }, { type: "tool_result", content: "y".repeat(50) }] },
    });
    expect(read(line, 12).cuts).toEqual([["message", "content", 1, "content"]]);
  });

  it("never ends a cut string on half a surrogate pair, and decodes escapes split across pieces", () => {
    const value = read(JSON.stringify({ s: `ab${"😀".repeat(10)}` }), 5, 1).value as { s: string };
    expect(value.s).toBe("ab😀");
    expect(read('{"s":"\\u00e9\\n\\u0041"}', 100, 1).value).toEqual({ s: "é\nA" });
  });

  it("keeps memory bounded: a total budget over all strings, a cap on members", () => {
    const many = JSON.stringify(Array.from({ length: 20 }, () => "z".repeat(100)));
    const bounded = read(many, 100, 64, { maxTotalChars: 250 });
    const strings = bounded.value as string[];
    expect(strings.join("").length).toBeLessThanOrEqual(250);
    expect(strings).toHaveLength(20);
    expect(bounded.cuts.length).toBeGreaterThan(0);
    const keys = read(
      JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}${"K".repeat(100)}`, 1]))),
      100,
      64,
      {
        maxTotalChars: 1_000,
      },
    );
    expect(Object.keys(keys.value as object).join("").length).toBeLessThanOrEqual(1_000);
    const members = read(JSON.stringify(Array.from({ length: 1_000 }, (_, i) => i)), 10, 100, { maxValues: 100 });
    expect(members.value).toHaveLength(100);
    expect(members.cuts).toEqual([[]]);
  });

  it("gives no value for text that is not one complete JSON value", () => {
    for (const text of ['{"a": 1', '{"a": tru}', '{"a": 1}}', "not json", '{"a": "\\q"}', '{"a": 1} {"b": 2}']) {
      expect(read(text, 100).value).toBeUndefined();
    }
  });

  it("makes a __proto__ key an own property, as JSON.parse does", () => {
    const value = read('{"__proto__": {"polluted": true}}', 100).value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});
