/**
 * Sets `top.child: value` in a config.yaml's text, keeping everything else (comments included).
 * Only block mappings two levels deep — what `molecule dev` needs to adjust a copied example
 * (the CLI does not carry a YAML library). `value` is written as given: pass JSON for strings.
 */
export function setYamlValue(text: string, top: string, child: string, value: string): string {
  const lines = text.replace(/\n$/, "").split("\n");
  const topIndex = lines.findIndex((line) => line.startsWith(`${top}:`));
  if (topIndex === -1) return `${lines.join("\n")}\n${top}:\n  ${child}: ${value}\n`;

  const rest =
    lines[topIndex]
      ?.slice(top.length + 1)
      .replace(/#.*$/, "")
      .trim() ?? "";
  if (rest !== "") {
    // An inline value (`top: {}` or a scalar): replace it with a block holding just this key.
    lines.splice(topIndex, 1, `${top}:`, `  ${child}: ${value}`);
    return `${lines.join("\n")}\n`;
  }
  let end = topIndex + 1;
  let indent: string | undefined;
  while (end < lines.length) {
    const line = lines[end] ?? "";
    if (line.trim() === "" || line.trimStart().startsWith("#")) {
      end += 1;
      continue;
    }
    const lead = /^(\s+)/.exec(line)?.[1];
    if (lead === undefined) break;
    indent ??= lead;
    end += 1;
  }
  const childIndent = indent ?? "  ";
  for (let i = topIndex + 1; i < end; i += 1) {
    if (lines[i]?.startsWith(`${childIndent}${child}:`)) {
      lines[i] = `${childIndent}${child}: ${value}`;
      return `${lines.join("\n")}\n`;
    }
  }
  lines.splice(topIndex + 1, 0, `${childIndent}${child}: ${value}`);
  return `${lines.join("\n")}\n`;
}
