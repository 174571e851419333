import { BoundedJsonReader, type JsonPath } from "./bounded-json.js";

export type { JsonPath };

/** A stdout line longer than the line limit: never held whole. @internal */
export interface LongLine {
  /** Its first characters (for text markers). */
  head: string;
  /** Its length, in characters. */
  chars: number;
  /** The line read as JSON with long strings cut (`BoundedJsonReader`); `undefined` when it is not one JSON value. */
  value: unknown;
  /** Where `value` was cut. */
  cuts: readonly JsonPath[];
}

/** Where an agent's stdout goes, line by line (without the newline). @internal */
export interface StdoutLineSink {
  line?(text: string): void;
  long?(line: LongLine): void;
  /** In a long JSON line: the most kept of the string at `path` (default: `maxStringChars`). */
  stringCap?(path: JsonPath): number;
}

/** A line longer than this (1 MiB of characters) is read as a `LongLine`. */
export const DEFAULT_MAX_LINE_CHARS = 1024 * 1024;
const HEAD_CHARS = 4096;

/**
 * Splits stdout into lines as it arrives. A line up to `maxLineChars` goes to `sink.line` whole; a
 * longer one is read on the fly (a JSON line through a `BoundedJsonReader` keeping strings up to
 * `maxStringChars`) and goes to `sink.long`: memory stays bounded whatever the agent prints. @internal
 */
export class StdoutLines {
  private pending = "";
  private long: { head: string; chars: number; json: BoundedJsonReader | undefined } | undefined;

  constructor(
    private readonly sink: StdoutLineSink,
    private readonly maxLineChars = DEFAULT_MAX_LINE_CHARS,
    private readonly maxStringChars = DEFAULT_MAX_LINE_CHARS,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf("\n", start);
      this.append(nl < 0 ? chunk.slice(start) : chunk.slice(start, nl));
      if (nl < 0) return;
      this.endLine();
      start = nl + 1;
    }
  }

  /** The last line, if stdout did not end with a newline. */
  end(): void {
    if (this.pending || this.long) this.endLine();
  }

  private append(part: string): void {
    if (!part) return;
    const long = this.long;
    if (long) {
      long.chars += part.length;
      if (long.head.length < HEAD_CHARS) long.head += part.slice(0, HEAD_CHARS - long.head.length);
      long.json?.feed(part);
      return;
    }
    if (this.pending.length + part.length <= this.maxLineChars) {
      this.pending += part;
      return;
    }
    const text = this.pending + part;
    this.pending = "";
    const capFor = this.sink.stringCap?.bind(this.sink);
    const json = /^\s*[[{]/.test(text.slice(0, 64))
      ? new BoundedJsonReader(this.maxStringChars, { capFor })
      : undefined;
    json?.feed(text);
    this.long = { head: text.slice(0, HEAD_CHARS), chars: text.length, json };
  }

  private endLine(): void {
    const long = this.long;
    if (long) {
      this.long = undefined;
      const read = long.json?.end();
      this.sink.long?.({ head: long.head, chars: long.chars, value: read?.value, cuts: read?.cuts ?? [] });
      return;
    }
    const line = this.pending;
    this.pending = "";
    this.sink.line?.(line);
  }
}
