import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** The failure modes `molecule dev --agent` asks of every model API fake. */
export type DevApiMode = "ok" | "unauthorized" | "empty";

/** A testkit fake of one agent's model API, seen the same way whichever API it imitates. */
export interface DevModelApi {
  /** `runtime_config.base_url` for it, spelled as the agent's own API clients spell it */
  readonly url: string;
  /**
   * How many earlier turns (the model's own replies) the last conversation request carrying `text`
   * showed the model; `undefined` when no request carried it.
   */
  earlierTurns(text: string): number | undefined;
  setMode(mode: DevApiMode): void;
  close(): Promise<void>;
}

/**
 * What `molecule dev --agent <id>` knows about an agent besides its registry descriptor (package,
 * version, binary and key variable come from there): which testkit fake speaks its model API, and
 * where it keeps its transcripts. One per agent other than Claude Code, in `dev/<id>.ts`.
 */
export interface DevAgentHarness {
  /** the registry id */
  readonly id: string;
  /** in words, e.g. "Codex CLI" */
  readonly name: string;
  /** the model API the fake imitates, e.g. "OpenAI Responses API" */
  readonly apiName: string;
  /** the install's size for the first-run line, e.g. "~420 MB" */
  readonly installSize: string;
  /**
   * For an agent served over an endpoint (the registry's `endpoint`, no CLI): the model
   * `runtime_config.model` names. Nothing is installed; the fake is the endpoint.
   */
  readonly model?: string;
  /** extra env for the daemon (preflight's `--version` check runs with it too) */
  readonly env?: Readonly<Record<string, string>>;
  /** Starts the fake; `reply` gives its answer from the number of earlier turns it was shown. */
  startModelApi(testkit: typeof import("@molecule/testkit"), reply: (earlier: number) => string): Promise<DevModelApi>;
  /** The agent's transcript files under its home (the ones a resume needs). */
  transcripts(home: string): Promise<string[]>;
}

/** The `.jsonl` files under `dir` whose path (relative to `dir`) matches `pattern`. */
export async function jsonlFiles(dir: string, pattern: RegExp): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true });
    return entries
      .filter((entry) => entry.endsWith(".jsonl") && pattern.test(entry.split("\\").join("/")))
      .map((entry) => join(dir, entry));
  } catch {
    return [];
  }
}

/** Removes the given files (a lost volume, as the stale-session scenario plays it). */
export async function removeFiles(files: readonly string[]): Promise<void> {
  await Promise.all(files.map((file) => rm(file, { force: true })));
}

/** The fake's answer: whether it saw earlier turns, so the screen shows a resume working. */
export function devReply(apiName: string): (earlier: number) => string {
  return (earlier) =>
    earlier === 0
      ? `Hello from the fake ${apiName}: this is a fresh conversation (no earlier turns).`
      : `Hello again from the fake ${apiName}: I can see ${earlier} earlier turn${earlier === 1 ? "" : "s"} of this conversation.`;
}

/** The last of `requests` whose messages carry `text`, as the number of `role` messages before it. */
export function earlierIn<R extends { readonly messages: readonly { role: string; text: string }[] }>(
  requests: readonly R[],
  text: string,
  role: string,
): number | undefined {
  const last = [...requests].reverse().find((r) => r.messages.some((m) => m.text.includes(text)));
  return last === undefined ? undefined : last.messages.filter((m) => m.role === role).length;
}
