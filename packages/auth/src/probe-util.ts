import { readFile, stat } from "node:fs/promises";
import type { AgentAuthContext, AgentAuthMethod, AgentAuthResult, AgentAuthState } from "./agent-auth.js";
import { errnoCode } from "./errors.js";

// Shared by the credential probes: token-free and network-free (files and env only).

/** @internal */
export type CredentialContext = Pick<AgentAuthContext, "home" | "env" | "stateDir">;

const MAX_CREDENTIALS_BYTES = 1024 * 1024;

/** @internal */
export const nonEmpty = (value: string | undefined): value is string =>
  typeof value === "string" && value.trim() !== "";

/** @internal */
export function okResult(
  state: "ok" | "expiring" | "refreshable",
  method: AgentAuthMethod,
  reason: string,
  warnings: string[] = [],
) {
  const result: AgentAuthResult = { ok: true, state, reason, warnings, method };
  return result;
}

/** @internal */
export function failResult(
  state: AgentAuthState,
  reason: string,
  extra: Partial<AgentAuthResult> = {},
): AgentAuthResult {
  return { ok: false, state, reason, warnings: [], ...extra };
}

/**
 * Describes a JSON.parse failure without quoting the input: V8 messages can contain a snippet of
 * the text ("Unexpected token 'x', \"…\" is not valid JSON"), and the text is a credential.
 * @internal
 */
export function describeJsonError(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/unexpected end of json input/i.test(message)) return "unexpected end of JSON input (truncated file?)";
  const position = /at position (\d+)/i.exec(message)?.[1];
  const what = /^([A-Za-z][A-Za-z ,'{}:\][]*?) (?:in JSON )?at position/i.exec(message)?.[1];
  if (position !== undefined) {
    // Grammar characters come in single quotes ("Expected ',' or '}'"); input would be double-quoted.
    const clean = (what ?? "syntax error")
      .replace(/"[^"]*"?/g, "")
      .replace(/'[^']{2,}'/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return `${clean} at position ${position}`;
  }
  if (/^unexpected token/i.test(message)) return "unexpected token";
  return "not valid JSON";
}

/** @internal */
export type TextRead = { kind: "missing" } | { kind: "unreadable"; reason: string } | { kind: "text"; text: string };

/** Reads a small credentials/settings file; never throws, never quotes its content. @internal */
export async function readSmallFile(file: string): Promise<TextRead> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { kind: "unreadable", reason: `${file} is not a regular file` };
    if (st.size > MAX_CREDENTIALS_BYTES) {
      return { kind: "unreadable", reason: `${file} is ${st.size} bytes, too large for a credentials file` };
    }
    return { kind: "text", text: await readFile(file, "utf8") };
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    return { kind: "unreadable", reason: `${file} cannot be read (${code ?? "error"})` };
  }
}

/** @internal */
export type FileRead = { kind: "missing" } | { kind: "unreadable"; reason: string } | { kind: "json"; value: unknown };

/** @internal */
export async function readJsonFile(file: string, parse: (text: string) => unknown = JSON.parse): Promise<FileRead> {
  const read = await readSmallFile(file);
  if (read.kind !== "text") return read;
  try {
    return { kind: "json", value: parse(read.text) };
  } catch (error) {
    return { kind: "unreadable", reason: `${file} is not valid JSON (${describeJsonError(error)})` };
  }
}
