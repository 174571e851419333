import type { Document } from "yaml";
import type { ConfigWarning } from "./load.js";
import { KNOWN_KEYS } from "./schema.js";

type Path = readonly (string | number)[];

/** Unknown keys (with a "did you mean"), deprecated fields and the YAML parser's own warnings. */
export function collectWarnings(
  doc: Document,
  raw: Record<string, unknown>,
  lineOf: (path: Path) => number | undefined,
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const add = (w: Omit<ConfigWarning, "line">, path: Path) => {
    const line = lineOf(path);
    warnings.push({ ...w, ...(line === undefined ? {} : { line }) });
  };

  for (const [section, known] of Object.entries(KNOWN_KEYS)) {
    const mapping = section === "" ? raw : raw[section];
    if (typeof mapping !== "object" || mapping === null || Array.isArray(mapping)) continue;
    for (const key of Object.keys(mapping)) {
      if (known.includes(key)) continue;
      const field = section === "" ? key : `${section}.${key}`;
      const hint = suggest(key, known) ?? (section === "" ? nestedHome(key) : undefined);
      add(
        {
          code: "W_CONFIG_UNKNOWN_KEY",
          field,
          message: `unknown key ${field} is ignored${hint ? ` (did you mean ${hint}?)` : ""}`,
          fix: hint
            ? `rename ${field} to ${hint}`
            : `remove ${field}, or check the spelling against the config reference`,
        },
        section === "" ? [key] : [section, key],
      );
    }
  }

  const rc = raw.runtime_config;
  if (typeof rc === "object" && rc !== null) {
    for (const key of ["auth_token_env", "auth_token_file"] as const) {
      if ((rc as Record<string, unknown>)[key] === undefined) continue;
      add(
        {
          code: "W_CONFIG_DEPRECATED",
          field: `runtime_config.${key}`,
          message: `runtime_config.${key} is deprecated`,
          fix: "list the agent's credential variables in runtime_config.required_env_any_of instead",
        },
        ["runtime_config", key],
      );
    }
  }

  for (const w of doc.warnings) {
    const line = w.linePos?.[0]?.line;
    warnings.push({
      code: "W_CONFIG_YAML",
      field: "",
      ...(line === undefined ? {} : { line }),
      message: w.message.split("\n")[0] ?? w.message,
      fix: "correct the YAML at that spot",
    });
  }
  return warnings;
}

function nestedHome(key: string): string | undefined {
  for (const [section, known] of Object.entries(KNOWN_KEYS)) {
    if (section !== "" && known.includes(key)) return `${section}.${key}`;
  }
  return undefined;
}

function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
