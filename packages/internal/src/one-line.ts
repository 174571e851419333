/** One line of operator-safe text: control characters become spaces, runs of spaces one, cut to `max` characters (+ "…"). */
export function oneLine(text: string, max: number): string {
  let flat = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    flat += cp < 0x20 || cp === 0x7f ? " " : ch;
  }
  const chars = Array.from(flat.replace(/ {2,}/g, " ").trim());
  return chars.length > max ? `${chars.slice(0, max).join("")}…` : chars.join("");
}
