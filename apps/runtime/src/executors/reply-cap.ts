/** `runtime_config.max_reply_bytes` unset: the most of an agent's answer the caller gets (8 MiB). */
export const DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024;

/** What ends an answer cut at `maxBytes` (the reply, marker included, stays within `maxBytes`). @internal */
export function cutMarker(maxBytes: number): string {
  return `\n\n[… the answer was cut here: it is longer than ${maxBytes} bytes, the runtime's limit (runtime_config.max_reply_bytes)]`;
}

const encoder = new TextEncoder();

/** The longest start of `text` that is at most `maxBytes` of UTF-8 (never half a character). @internal */
export function cutToBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  if (maxBytes <= 0) return "";
  const { read } = encoder.encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

/** An answer as the caller gets it: whole when it fits in `maxBytes`, else its start and the marker. @internal */
export interface CappedReply {
  text: string;
  /** The answer was longer than the limit (its end is lost; the text ends with the marker). */
  cut: boolean;
}

/** Caps one answer: `alreadyCut` when its reader kept only its start (a bounded JSON read). @internal */
export function capReply(text: string, maxBytes: number, alreadyCut = false): CappedReply {
  if (!alreadyCut && (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes)) return { text, cut: false };
  const marker = cutMarker(maxBytes);
  return { text: cutToBytes(text, Math.max(0, maxBytes - Buffer.byteLength(marker))) + marker, cut: true };
}

/**
 * An answer that arrives in pieces (Gemini's streamed message deltas): keeps at most a little more
 * than `maxBytes` of them, then caps the whole. @internal
 */
export class ReplyPieces {
  private pieces: string[] = [];
  private bytes = 0;
  private over = false;

  constructor(private readonly maxBytes: number) {}

  append(text: string, alreadyCut = false): void {
    if (alreadyCut) this.over = true;
    if (this.bytes > this.maxBytes) {
      if (text) this.over = true;
      return;
    }
    this.pieces.push(text);
    this.bytes += Buffer.byteLength(text);
  }

  reply(): CappedReply {
    return capReply(this.pieces.join(""), this.maxBytes, this.over);
  }
}

/**
 * The latest texts seen (error lines, noise lines), for classification and details: at most
 * `maxItems` of them, each cut to its first `maxChars`. @internal
 */
export class LatestTexts {
  private readonly items: string[] = [];

  constructor(
    private readonly maxItems = 32,
    private readonly maxChars = 16_000,
  ) {}

  add(text: string): void {
    this.items.push(text.length > this.maxChars ? text.slice(0, this.maxChars) : text);
    if (this.items.length > this.maxItems) this.items.shift();
  }

  list(): string[] {
    return [...this.items];
  }
}

/**
 * A text stream kept bounded: its first `headChars` and its last `tailChars`, with a note of what
 * was left out between them (stderr: the start says what failed, the end how it ended). @internal
 */
export class HeadTail {
  private head = "";
  private tail = "";
  private total = 0;

  constructor(
    private readonly headChars = 16 * 1024,
    private readonly tailChars = 48 * 1024,
  ) {}

  push(chunk: string): void {
    this.total += chunk.length;
    if (this.head.length < this.headChars) {
      const room = this.headChars - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
      if (!chunk) return;
    }
    this.tail = (this.tail + chunk).slice(-this.tailChars);
  }

  text(): string {
    const skipped = this.total - this.head.length - this.tail.length;
    return skipped > 0 ? `${this.head}\n[… ${skipped} characters left out …]\n${this.tail}` : this.head + this.tail;
  }
}
