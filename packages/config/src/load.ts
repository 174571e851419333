import { realpath } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { CONFIG_LIMITS, documentViolation, flowDepthViolation, positionOf, readBounded } from "./bounds.js";
import { ConfigError, type ConfigFieldProblem } from "./errors.js";
import { type WorkspaceConfig, workspaceConfigSchema } from "./schema.js";
import { collectWarnings } from "./warnings.js";

/** The file `loadConfig` reads inside the config directory. */
export const CONFIG_FILE_NAME = "config.yaml";

/** Something in config.yaml that works but deserves a look (never stops the workspace). */
export interface ConfigWarning {
  code: "W_CONFIG_UNKNOWN_KEY" | "W_CONFIG_DEPRECATED" | "W_CONFIG_YAML";
  /** Dotted path of the field, e.g. `promt_files`. */
  field: string;
  /** 1-based line in config.yaml, when known. */
  line?: number;
  message: string;
  fix: string;
}

export interface LoadConfigOptions {
  /**
   * Environment (default `process.env`); `MODEL_PROVIDER`, when non-empty, overrides `model`;
   * `MOLECULE_ADAPTER_MODULE`, when non-empty, sets `runtime: adapter` and `runtime_config.module`.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface LoadedConfig {
  config: WorkspaceConfig;
  warnings: ConfigWarning[];
  /** The absolute path of the config.yaml that was read. */
  file: string;
}

type Path = readonly (string | number)[];

/**
 * Reads and validates `<dir>/config.yaml`. Resolves to the config with every default filled in and
 * the warnings (unknown keys with a "did you mean" hint, deprecated fields); rejects with a
 * `ConfigError` naming the file, the line or field, and the fix.
 */
export async function loadConfig(dir: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const configDir = resolve(dir);
  const file = join(configDir, CONFIG_FILE_NAME);

  let read: Awaited<ReturnType<typeof readBounded>>;
  try {
    read = await readBounded(file, CONFIG_LIMITS.maxBytes);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const absent = code === "ENOENT" || code === "ENOTDIR";
    throw new ConfigError({
      code: "E_CONFIG_MISSING",
      file,
      message: absent
        ? `${file} does not exist. Fix: mount the workspace config there, or point WORKSPACE_CONFIG_PATH (or --config) at the directory holding config.yaml.`
        : `${file} cannot be read (${code ?? "unknown error"}). Fix: make it readable by this user (uid ${process.getuid?.() ?? "?"}).`,
      fix: absent
        ? "Mount the workspace config there, or point WORKSPACE_CONFIG_PATH (or --config) at the directory holding config.yaml."
        : "Make config.yaml readable by the user the runtime runs as.",
      cause,
    });
  }

  if ("tooLarge" in read) {
    throw new ConfigError({
      code: "E_CONFIG_TOO_LARGE",
      file,
      message: `${file} is larger than ${CONFIG_LIMITS.maxBytes / 1024} KiB. Fix: keep config.yaml small; put long prompts in prompt files (prompt_files, initial_prompt_file) instead.`,
      fix: "Keep config.yaml small; put long prompts in prompt files (prompt_files, initial_prompt_file) instead.",
    });
  }
  const { text } = read;
  const lineCounter = new LineCounter();
  const tooDeep = flowDepthViolation(text, CONFIG_LIMITS.maxDepth);
  // uniqueKeys is checked by documentViolation: the parser's own check is quadratic in the keys.
  const doc = tooDeep ? undefined : parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false });
  const violation = tooDeep ?? (doc && doc.errors.length === 0 ? documentViolation(doc, CONFIG_LIMITS) : undefined);
  if (violation || !doc) {
    const where = positionOf(text, violation?.offset);
    const at = where.line === undefined ? "" : ` line ${where.line}, column ${where.column}`;
    const duplicate = violation?.kind === "duplicate-key";
    const fix = duplicate
      ? "Remove one of the two entries (a key may appear once per mapping)."
      : `Keep config.yaml plain: at most ${CONFIG_LIMITS.maxKeys} keys, ${CONFIG_LIMITS.maxDepth} levels of nesting and ${CONFIG_LIMITS.maxAliases} aliases.`;
    throw new ConfigError({
      code: duplicate ? "E_CONFIG_YAML" : "E_CONFIG_TOO_LARGE",
      file,
      message: `${file}${at}: ${duplicate ? "not valid YAML: " : "refused: "}${violation?.message ?? "too complex"}. Fix: ${fix}`,
      fix,
      ...where,
    });
  }
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = yamlError.linePos?.[0];
    const where = pos ? ` line ${pos.line}, column ${pos.col}` : "";
    const what = (yamlError.message.split("\n")[0] ?? yamlError.message).replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError({
      code: "E_CONFIG_YAML",
      file,
      message: `${file}${where}: not valid YAML: ${what}. Fix: correct the YAML at that spot (check indentation, colons and quotes).`,
      fix: `Correct the YAML at${where || " the reported spot"} (check indentation, colons and quotes).`,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
      cause: yamlError,
    });
  }

  const lineOf = (path: Path): number | undefined => {
    for (let n = path.length; n >= 0; n -= 1) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      const offset = node && typeof node === "object" ? node.range?.[0] : undefined;
      if (typeof offset === "number") return lineCounter.linePos(offset).line;
    }
    return undefined;
  };

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: CONFIG_LIMITS.maxAliases }) ?? {};
  } catch (cause) {
    // yaml counts what aliases expand to: a few aliases of aliases can still explode.
    const fix = `Keep config.yaml plain: at most ${CONFIG_LIMITS.maxAliases} aliases, and no aliases of aliases that multiply.`;
    throw new ConfigError({
      code: "E_CONFIG_TOO_LARGE",
      file,
      message: `${file}: refused: aliases expand too far. Fix: ${fix}`,
      fix,
      cause,
    });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const problem: ConfigFieldProblem = {
      code: "E_CONFIG_INVALID",
      field: "",
      line: 1,
      message: `the top level must be a mapping of key: value lines, got ${describe(raw)}`,
      fix: "Write config.yaml as key: value lines (name: ..., runtime: ..., ...).",
    };
    throw fieldError(file, [problem]);
  }

  const problems: ConfigFieldProblem[] = [];
  const parsed = workspaceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const line = lineOf(issue.path as Path);
      problems.push({ ...describeIssue(issue, raw), ...(line === undefined ? {} : { line }) });
    }
  }
  for (const problem of await pathProblems(configDir, raw as Record<string, unknown>)) {
    const line = lineOf(problem.field.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)));
    problems.push({ ...problem, ...(line === undefined ? {} : { line }) });
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (problems.length > 0 || !parsed.success) throw fieldError(file, problems);

  const config = parsed.data;
  const model = env.MODEL_PROVIDER?.trim();
  if (model) config.model = model;
  // An image that ships an adapter names it in MOLECULE_ADAPTER_MODULE: it runs, whatever runtime the file names.
  const adapterModule = env.MOLECULE_ADAPTER_MODULE?.trim();
  if (adapterModule) {
    config.runtime = "adapter";
    config.runtime_config.module = adapterModule;
  }

  return { config, warnings: collectWarnings(doc, raw as Record<string, unknown>, lineOf), file };
}

function fieldError(file: string, problems: ConfigFieldProblem[]): ConfigError {
  const first = problems[0];
  const code = problems.some((p) => p.code === "E_CONFIG_INVALID") ? "E_CONFIG_INVALID" : "E_CONFIG_PATH_ESCAPE";
  const lines = problems.map((p) => {
    const at = p.line === undefined ? "" : `line ${p.line}, `;
    return `  - ${at}${p.field || "(top level)"}: ${p.message}. Fix: ${p.fix}`;
  });
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return new ConfigError({
    code,
    file,
    message: `${file} is invalid (${count}):\n${lines.join("\n")}`,
    fix: first?.fix ?? "Correct config.yaml.",
    problems,
    ...(first?.line === undefined ? {} : { line: first.line }),
  });
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null (an empty value)";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${String(value)}`;
}

const EXPECTED: Record<string, string> = {
  object: "a mapping (indented key: value lines)",
  array: "a list (`- item` lines or [a, b])",
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): Omit<ConfigFieldProblem, "line"> {
  const path = issue.path as Path;
  const field = path.join(".");
  const got = describe(valueAt(raw, path));
  const base = { code: "E_CONFIG_INVALID" as const, field };
  switch (issue.code) {
    case "invalid_type": {
      const want = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.expected === "object") {
        return {
          ...base,
          message: `expected ${want}, got ${got}`,
          fix: `give ${field} its fields on indented lines below it, or remove the ${field}: line to use the defaults`,
        };
      }
      return { ...base, message: `expected ${want}, got ${got}`, fix: `set ${field} to ${want}` };
    }
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const word = issue.code === "too_small" ? "at least" : "at most";
      const exclusive = issue.inclusive === false;
      const rule = exclusive ? `${issue.code === "too_small" ? "greater" : "less"} than ${bound}` : `${word} ${bound}`;
      return { ...base, message: `must be ${rule}, got ${got}`, fix: `set ${field} to a value ${rule}` };
    }
    case "invalid_value": {
      const values = issue.values.map((v) => String(v)).join(", ");
      return {
        ...base,
        message: `must be one of ${values}, got ${got}`,
        fix: `set ${field} to one of ${values}, or remove it`,
      };
    }
    case "invalid_union":
      return { ...base, message: `expected a string, got ${got}`, fix: `set ${field} to a string` };
    default:
      return { ...base, message: `${issue.message}, got ${got}`, fix: `change ${field}: it ${issue.message}` };
  }
}

/** Fields naming files inside the config directory (skills name directories under `skills/`). */
async function pathProblems(dir: string, raw: Record<string, unknown>): Promise<Omit<ConfigFieldProblem, "line">[]> {
  const entries: { field: string; value: string; base: string }[] = [];
  for (const key of ["prompt_files", "shared_context", "skills"] as const) {
    const list = raw[key];
    if (!Array.isArray(list)) continue;
    list.forEach((value, i) => {
      if (typeof value === "string") {
        entries.push({ field: `${key}.${i}`, value, base: key === "skills" ? join(dir, "skills") : dir });
      }
    });
  }
  for (const key of ["initial_prompt_file", "idle_prompt_file"] as const) {
    const value = raw[key];
    if (typeof value === "string") entries.push({ field: key, value, base: dir });
  }

  let realDir: string | undefined;
  const problems: Omit<ConfigFieldProblem, "line">[] = [];
  for (const { field, value, base } of entries) {
    const fix = `use a path relative to ${base} that stays inside it`;
    if (isAbsolute(value)) {
      problems.push({
        code: "E_CONFIG_PATH_ESCAPE",
        field,
        message: `${JSON.stringify(value)} is an absolute path`,
        fix,
      });
      continue;
    }
    const target = resolve(base, value);
    if (!inside(base, target)) {
      problems.push({
        code: "E_CONFIG_PATH_ESCAPE",
        field,
        message: `${JSON.stringify(value)} resolves to ${target}, outside ${base}`,
        fix,
      });
      continue;
    }
    // A symlink inside the directory must not lead outside it either.
    let realTarget: string;
    try {
      realTarget = await realpath(target);
    } catch {
      continue; // absent: preflight reports missing files
    }
    realDir ??= await realpath(dir).catch(() => dir);
    if (!inside(realDir, realTarget)) {
      problems.push({
        code: "E_CONFIG_PATH_ESCAPE",
        field,
        message: `${JSON.stringify(value)} is a link to ${realTarget}, outside ${dir}`,
        fix: "copy the file into the config directory instead of linking to it",
      });
    }
  }
  return problems;
}

function inside(base: string, target: string): boolean {
  const rel = relative(base, target);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
