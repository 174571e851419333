import { join, resolve } from "node:path";

/** The repository root (packages/test-support/src → three levels up). */
export const REPO_ROOT = resolve(import.meta.dirname, "../../..");
/** Where `pnpm install` links the pinned real Claude Code CLI (a root devDependency). */
export const CLAUDE_BIN_DIR = join(REPO_ROOT, "node_modules/.bin");
/** The pinned real Claude Code CLI. */
export const CLAUDE_BIN = join(CLAUDE_BIN_DIR, "claude");

/**
 * The env that keeps the real Claude Code CLI from calling home (telemetry, update checks, other
 * non-essential traffic). Merge it into a child's env together with an isolated HOME; for a turn
 * that completes offline, add `ANTHROPIC_BASE_URL` (a fake model API) and any `ANTHROPIC_API_KEY`.
 */
export const OFFLINE_CLAUDE_ENV: Readonly<Record<string, string>> = Object.freeze({
  DISABLE_TELEMETRY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
});

/** Every string inside a model request's `messages`, flattened (to find a prompt or an earlier turn). */
export function modelRequestTexts(body: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) walk(x);
  };
  walk(typeof body === "object" && body !== null && "messages" in body ? body.messages : undefined);
  return out;
}
