import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "@molecule/internal";
import type { Executor } from "../executor.js";
import type { AgentExecutorOptions } from "./agent-options.js";
import { createCliAgentExecutor } from "./cli-agent.js";
import { geminiActivityOf, geminiActivityOfValue } from "./gemini-activity.js";
import { geminiRunReader } from "./gemini-stream.js";

// Gemini CLI 0.61.0, measured (docs/AGENTS.md): `gemini --skip-trust -o stream-json [-m MODEL] --session-id <uuid>`
// for a new session, `… --resume <uuid>` after, the message on stdin (then closed), in the same cwd
// with the same GEMINI_CLI_HOME. The top process ignores SIGTERM: the runner kills the process group.

const NAME = "gemini-cli";
/**
 * `general.maxAttempts` (main-model requests per turn). The CLI's default, 10 with 5–30 s backoff,
 * turns a 429/500 into ~5 minutes; 2 keeps one in-CLI retry for a dropped connection (which the
 * runner does not retry) and surfaces a failing API in seconds, where the runner's own bounded,
 * visible retries take over.
 */
const MAX_ATTEMPTS = 2;

type Json = Record<string, unknown>;

/**
 * Gemini CLI 0.61.0, resuming a session in a later minute than it started, writes a second chat
 * file named with the new minute (`session-<minute>-<id8>.jsonl`) holding only the session's header,
 * while the turn itself is appended to the first file. A later `--resume` may pick that stub and
 * lose the conversation, so after each successful turn the stubs of the session (its header, no
 * model reply) are removed. Measured: docs/AGENTS.md.
 * @internal
 */
export async function removeResumeStubs(geminiDir: string, sessionId: string): Promise<void> {
  const suffix = `-${sessionId.slice(0, 8).toLowerCase()}.jsonl`;
  const tmp = join(geminiDir, "tmp");
  const projects = await readdir(tmp).catch(() => [] as string[]);
  for (const project of projects) {
    const chats = join(tmp, project, "chats");
    const names = (await readdir(chats).catch(() => [] as string[])).filter(
      (name) => name.startsWith("session-") && name.toLowerCase().endsWith(suffix),
    );
    if (names.length < 2) continue;
    for (const name of names) {
      const text = await readFile(join(chats, name), "utf8").catch(() => undefined);
      if (text === undefined || !text.includes(sessionId)) continue;
      const hasReply = text.split("\n").some((line) => line.includes('"type":"gemini"'));
      if (!hasReply) await rm(join(chats, name), { force: true });
    }
  }
}

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `base` with `patch` merged in (objects recursively); `base` is not changed. */
function merged(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = out[key];
    out[key] = isObject(value) && isObject(current) ? merged(current, value) : value;
  }
  return out;
}

/**
 * The built-in executor for Gemini CLI: one `gemini -o stream-json` per turn, in the workspace
 * directory and its own process group, with `GEMINI_CLI_HOME` and a private `TMPDIR` under the
 * daemon's control. The daemon picks each new session's id (`--session-id`) and resumes it while
 * its chat file holds a model reply; a session the CLI no longer finds, or an id that clashes, is
 * retried once in a new session.
 *
 * Settings: Gemini CLI only honours a system settings file (`GEMINI_CLI_SYSTEM_SETTINGS_PATH`) owned
 * by root in root-owned directories none of which is group/world-writable (else: "Security
 * Warning: Skipping system settings file"), which a daemon running as a normal user (the image:
 * uid 1000) or under /tmp cannot provide. So the daemon's settings (`general.maxAttempts`, and with
 * a base URL `security.auth.selectedType: "gemini-api-key"`) and the workspace's prompt files (as
 * the home's `GEMINI.md`, which the CLI appends to its system prompt) are written into the agent's
 * home only when the daemon owns that home (`<state>/agents/…`). A `GEMINI_CLI_HOME` taken from the
 * daemon's environment is the user's own: nothing is written there, and what is not applied is
 * logged once. A `GEMINI_CLI_SYSTEM_SETTINGS_PATH` in the daemon's environment is left as it is
 * (system settings override the home's).
 */
export function createGeminiCliExecutor(options: AgentExecutorOptions): Executor {
  const log = options.logger;
  const geminiDir = join(options.home, ".gemini");
  const settingsFile = join(geminiDir, "settings.json");
  const memoryFile = join(geminiDir, "GEMINI.md");
  // chooseExecutor takes GEMINI_CLI_HOME from the environment when set: then the home is the user's.
  const userHome = options.env.GEMINI_CLI_HOME;
  const ownsHome = !userHome || resolve(userHome) !== resolve(options.home);

  const env: NodeJS.ProcessEnv = {
    ...options.env,
    GEMINI_CLI_HOME: options.home,
    TMPDIR: options.tmpDir,
    // One process instead of a launcher that re-spawns the CLI with a bigger heap: about half the
    // wall time of a turn; the runner's group kill reaps either shape.
    GEMINI_CLI_NO_RELAUNCH: options.env.GEMINI_CLI_NO_RELAUNCH ?? "true",
    ...(options.baseUrl ? { GOOGLE_GEMINI_BASE_URL: options.baseUrl } : {}),
  };
  // Trust: `--skip-trust` only, not GEMINI_CLI_TRUST_WORKSPACE: a trusted workspace would also load
  // the workspace's `.gemini/.env` (which can set GEMINI_API_KEY / GOOGLE_GEMINI_BASE_URL) and its
  // `.gemini/settings.json`.

  const fixed = ["--skip-trust", "-o", "stream-json"];
  if (options.model) fixed.push("-m", options.model);
  fixed.push(...(options.extraArgs ?? []));

  if (options.effort)
    log?.warn(
      { event: "executor.option_ignored", agent: NAME, option: "effort", value: options.effort },
      `effort "${options.effort}" has no Gemini CLI option; the model's default is used`,
    );

  const wanted: Json = {
    general: { maxAttempts: MAX_ATTEMPTS },
    ...(options.baseUrl ? { security: { auth: { selectedType: "gemini-api-key" } } } : {}),
  };

  /** Merges the daemon's settings into the home's settings.json (atomic, 0600) when they are not there yet. */
  async function writeSettings(): Promise<void> {
    const text = await readFile(settingsFile, "utf8").catch(() => undefined);
    let current: Json = {};
    if (text !== undefined) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (isObject(parsed)) current = parsed;
      } catch {
        log?.warn(
          { event: "executor.settings_replaced", agent: NAME, file: settingsFile },
          "the agent home's settings.json was not valid JSON; it is replaced with the daemon's settings",
        );
      }
    }
    const next = `${JSON.stringify(merged(current, wanted), null, 2)}\n`;
    if (next !== text) await writeFileAtomic(settingsFile, next, { mode: 0o600, dirMode: 0o700 });
  }

  /** The workspace's prompt files as the home's GEMINI.md (removed when there are none). */
  async function writeMemory(): Promise<void> {
    if (!options.systemPrompt) {
      await rm(memoryFile, { force: true });
      return;
    }
    const next = `${options.systemPrompt}\n`;
    const text = await readFile(memoryFile, "utf8").catch(() => undefined);
    if (next !== text) await writeFileAtomic(memoryFile, next, { mode: 0o600, dirMode: 0o700 });
  }

  let warned = false;
  function warnNotApplied(): void {
    if (warned) return;
    warned = true;
    const missing = [
      `general.maxAttempts: ${MAX_ATTEMPTS} (the CLI retries a failing model API up to 10 times, ~5 minutes; the turn timeout still ends it)`,
      ...(options.baseUrl
        ? ['security.auth.selectedType: "gemini-api-key" (without it the base URL is refused: exit 41)']
        : []),
      ...(options.systemPrompt ? ["the workspace's prompt files (as .gemini/GEMINI.md)"] : []),
    ];
    log?.warn(
      { event: "executor.home_not_written", agent: NAME, home: options.home },
      `GEMINI_CLI_HOME is set in the daemon's environment, so it is the user's own and the daemon writes nothing there; not applied: ${missing.join("; ")}. Set them in ${settingsFile} yourself, or unset GEMINI_CLI_HOME to let the daemon keep its own home`,
    );
  }

  return createCliAgentExecutor(
    {
      name: NAME,
      session: { agent: NAME, cwd: options.cwd, home: options.home },
      newSessionId: randomUUID,
      args({ resume, fresh }) {
        if (resume) return [...fixed, "--resume", resume];
        return fresh ? [...fixed, "--session-id", fresh] : fixed;
      },
      read: (maxReplyBytes) => geminiRunReader(maxReplyBytes, options.model),
      onLine(line, _note, activity) {
        const event = geminiActivityOf(line);
        if (event) activity(event);
      },
      onLongLine(value, _note, activity) {
        const event = geminiActivityOfValue(value);
        if (event) activity(event);
      },
    },
    {
      command: options.command,
      cwd: options.cwd,
      env,
      sessionStore: options.sessionStore,
      timeoutMs: options.timeoutMs,
      rateLimitRetries: options.rateLimitRetries,
      rateLimitBackoffMs: options.rateLimitBackoffMs,
      killGraceMs: options.killGraceMs,
      logger: log,
      groups: options.groups,
      onStateWriteError: options.onStateWriteError,
      maxReplyBytes: options.maxReplyBytes,
      async prepare() {
        await mkdir(options.home, { recursive: true, mode: 0o700 });
        await mkdir(options.tmpDir, { recursive: true, mode: 0o700 });
        if (!ownsHome) {
          warnNotApplied();
          return;
        }
        await mkdir(geminiDir, { recursive: true, mode: 0o700 });
        await writeSettings();
        await writeMemory();
      },
    },
  );
}
