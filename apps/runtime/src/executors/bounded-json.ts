/** Where a value sits in a JSON document: object keys and array indexes from the root. @internal */
export type JsonPath = readonly (string | number)[];

/** What a `BoundedJsonReader` read. @internal */
export interface BoundedJson {
  /** The value, or `undefined` when the text was not one complete JSON value. */
  value: unknown;
  /** Where a string was cut (its start kept) or an array/object stopped taking members. */
  cuts: JsonPath[];
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};
const MAX_KEY_CHARS = 1024;
const MAX_SCALAR_CHARS = 64;
const MAX_DEPTH = 512;

type Container = Record<string, unknown> | unknown[];
interface Frame {
  container: Container;
  path: (string | number)[];
  /** Objects: the next string is a key. */
  expectKey: boolean;
  key: string | undefined;
}

// Modes of the scanner.
const VALUE = 0;
const STRING = 1;
const ESCAPE = 2;
const UNICODE = 3;
const SCALAR = 4;
const BROKEN = 5;

/**
 * Reads one JSON value fed in pieces, never holding the text: a string longer than `maxStringChars`
 * keeps its start (the cut is reported with its path), all strings together keep at most
 * `maxTotalChars`, and at most `maxValues` members are kept. So a line of any size (an agent's 10 MB
 * result) is read in bounded memory, with the small fields after the big one (a session id, the
 * usage) intact. Loose about what JSON.parse would reject (it is for reading, not validating). @internal
 */
export class BoundedJsonReader {
  private mode = VALUE;
  private readonly stack: Frame[] = [];
  private root: unknown;
  private hasRoot = false;
  private pieces: string[] = [];
  private kept = 0;
  private cap = 0;
  private cutHere = false;
  private isKey = false;
  private hex = "";
  private scalar = "";
  private budget: number;
  private values = 0;
  private readonly cuts: JsonPath[] = [];
  private readonly maxValues: number;
  private readonly capFor: ((path: JsonPath) => number) | undefined;

  /**
   * `options.capFor`: the most kept of the string at `path` (within `maxStringChars`), so only the
   * strings a reader needs whole (the answer) take the big cap.
   */
  constructor(
    private readonly maxStringChars: number,
    options: { maxTotalChars?: number; maxValues?: number; capFor?: ((path: JsonPath) => number) | undefined } = {},
  ) {
    this.budget = options.maxTotalChars ?? maxStringChars + 1024 * 1024;
    this.maxValues = options.maxValues ?? 100_000;
    this.capFor = options.capFor;
  }

  feed(chunk: string): void {
    let i = 0;
    const n = chunk.length;
    let quote = -2;
    let slash = -2;
    while (i < n && this.mode !== BROKEN) {
      if (this.mode === STRING) {
        // The next quote or backslash, each searched once per chunk position (a string full of
        // escapes must not rescan the rest of the chunk at every one).
        if (quote !== -1 && quote < i) quote = chunk.indexOf('"', i);
        if (slash !== -1 && slash < i) slash = chunk.indexOf("\\", i);
        const stop = Math.min(quote < 0 ? n : quote, slash < 0 ? n : slash);
        if (stop > i) this.keep(chunk.slice(i, stop));
        i = stop;
        if (i >= n) break;
        if (i === quote) this.endString();
        else this.mode = ESCAPE;
        i += 1;
      } else if (this.mode === ESCAPE) {
        const c = chunk.charAt(i++);
        if (c === "u") {
          this.mode = UNICODE;
          this.hex = "";
        } else {
          const decoded = ESCAPES[c];
          if (decoded === undefined) this.mode = BROKEN;
          else {
            this.keep(decoded);
            this.mode = STRING;
          }
        }
      } else if (this.mode === UNICODE) {
        this.hex += chunk.charAt(i++);
        if (this.hex.length === 4) {
          if (!/^[0-9a-fA-F]{4}$/.test(this.hex)) this.mode = BROKEN;
          else {
            this.keep(String.fromCharCode(Number.parseInt(this.hex, 16)));
            this.mode = STRING;
          }
        }
      } else if (this.mode === SCALAR) {
        const code = chunk.charCodeAt(i);
        if (WS.has(code) || code === 0x2c || code === 0x7d || code === 0x5d) this.endScalar();
        else {
          this.scalar += chunk.charAt(i++);
          if (this.scalar.length > MAX_SCALAR_CHARS) this.mode = BROKEN;
        }
      } else {
        this.structural(chunk.charAt(i++));
      }
    }
  }

  /** The value read (undefined unless the text was one complete JSON value) and where it was cut. */
  end(): BoundedJson {
    if (this.mode === SCALAR) this.endScalar();
    const complete = this.mode === VALUE && this.stack.length === 0 && this.hasRoot;
    return { value: complete ? this.root : undefined, cuts: this.cuts };
  }

  private structural(c: string): void {
    const top = this.stack.at(-1);
    switch (c) {
      case " ":
      case "\t":
      case "\r":
      case "\n":
      case ":":
        return;
      case ",":
        if (top && !Array.isArray(top.container)) top.expectKey = true;
        return;
      case '"':
        this.isKey = top !== undefined && !Array.isArray(top.container) && top.expectKey;
        this.cap = Math.max(
          0,
          this.isKey
            ? Math.min(MAX_KEY_CHARS, this.budget)
            : Math.min(this.maxStringChars, this.budget, this.capFor?.(this.childPath()) ?? Number.POSITIVE_INFINITY),
        );
        this.pieces = [];
        this.kept = 0;
        this.cutHere = false;
        this.mode = STRING;
        return;
      case "{":
      case "[": {
        if (this.stack.length >= MAX_DEPTH) {
          this.mode = BROKEN;
          return;
        }
        const container: Container = c === "[" ? [] : {};
        const path = this.childPath();
        this.put(container);
        this.stack.push({ container, path, expectKey: c === "{", key: undefined });
        return;
      }
      case "}":
      case "]":
        if (!top || Array.isArray(top.container) !== (c === "]")) this.mode = BROKEN;
        else this.stack.pop();
        return;
      default:
        this.mode = SCALAR;
        this.scalar = c;
    }
  }

  /** The path of the value about to be put. */
  private childPath(): (string | number)[] {
    const top = this.stack.at(-1);
    if (!top) return [];
    if (Array.isArray(top.container)) return [...top.path, top.container.length];
    return [...top.path, top.key ?? ""];
  }

  private keep(text: string): void {
    if (this.kept >= this.cap) {
      this.cutHere = true;
      return;
    }
    const piece = text.length > this.cap - this.kept ? text.slice(0, this.cap - this.kept) : text;
    if (piece.length < text.length) this.cutHere = true;
    this.pieces.push(piece);
    this.kept += piece.length;
  }

  private endString(): void {
    let text = this.pieces.length === 1 ? (this.pieces[0] ?? "") : this.pieces.join("");
    this.pieces = [];
    // A cut string never ends on half a surrogate pair.
    const last = text.charCodeAt(text.length - 1);
    if (this.cutHere && last >= 0xd800 && last <= 0xdbff) text = text.slice(0, -1);
    this.mode = VALUE;
    const top = this.stack.at(-1);
    // Keys count against the budget too: a line of a million keys must not hold them all.
    this.budget -= text.length;
    if (this.isKey && top) {
      top.key = text;
      top.expectKey = false;
      return;
    }
    if (this.cutHere) this.cuts.push(this.childPath());
    this.put(text);
  }

  private endScalar(): void {
    const text = this.scalar;
    this.scalar = "";
    this.mode = VALUE;
    let value: unknown;
    if (text === "true") value = true;
    else if (text === "false") value = false;
    else if (text === "null") value = null;
    else if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) value = Number(text);
    else {
      this.mode = BROKEN;
      return;
    }
    this.put(value);
  }

  private put(value: unknown): void {
    const top = this.stack.at(-1);
    if (!top) {
      if (this.hasRoot) this.mode = BROKEN;
      this.root = value;
      this.hasRoot = true;
      return;
    }
    this.values += 1;
    if (this.values > this.maxValues) {
      if (this.values === this.maxValues + 1) this.cuts.push(top.path);
      return;
    }
    if (Array.isArray(top.container)) top.container.push(value);
    else {
      // As JSON.parse does: an own property, even for "__proto__".
      Object.defineProperty(top.container, top.key ?? "", {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      top.key = undefined;
    }
  }
}
