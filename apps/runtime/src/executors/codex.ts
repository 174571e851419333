import { mkdir } from "node:fs/promises";
import type { Executor, TurnReply, TurnRequest } from "../executor.js";
import type { AgentExecutorOptions } from "./agent-options.js";
import { createCliAgentExecutor } from "./cli-agent.js";
import { codexActivityOf, codexActivityOfValue } from "./codex-activity.js";
import { codexRetryOf, codexRunReader } from "./codex-stream.js";
import { type CodexUsage, codexTurnUsage, threadCumulative } from "./codex-usage.js";

// Codex CLI 0.169.0, measured (docs/AGENTS.md): `codex exec --json --skip-git-repo-check [options…] -`
// with the message on stdin (then closed); a resumed turn puts every option before
// `resume <thread_id> -` (`resume` itself rejects `-s`). `exec` defaults to `approval: never`,
// `sandbox: read-only`: this executor keeps that unless `runtime_config.args` say otherwise.

const NAME = "codex";
/** The custom provider `runtime_config.base_url` runs Codex with (`-c` overrides; the user's config.toml is never touched). */
const PROVIDER = "molecule";
/** The variable the custom provider's key is read from (sent as `Authorization: Bearer`). */
const PROVIDER_ENV_KEY = "CODEX_API_KEY";
/**
 * The custom provider's retries. Codex's defaults (4 silent request retries × 5 visible stream
 * retries) turn a 500 into 30 requests over ~25 s; 1 × 2 fails it in about 2 s, and the runner's
 * own rate-limit retries (with backoff) take over from there.
 */
const REQUEST_MAX_RETRIES = 1;
const STREAM_MAX_RETRIES = 2;
/** Linux caps one argv string at 128 KiB; a longer prompt would fail every spawn (E2BIG). */
const MAX_INSTRUCTIONS_BYTES = 100_000;

/**
 * `runtime_config.effort` → Codex's `model_reasoning_effort`. Codex passes any string through to
 * the API, which knows none/minimal/low/medium/high/xhigh: `max` is its highest, `xhigh`.
 */
const EFFORTS: Readonly<Record<string, string>> = {
  low: "low",
  medium: "medium",
  high: "high",
  xhigh: "xhigh",
  max: "xhigh",
};

/** A TOML basic string (what `-c key=value` parses): JSON's escapes, minus what TOML forbids. */
function tomlString(text: string): string {
  return JSON.stringify(text.replace(/[\uD800-\uDFFF]/gu, "\uFFFD")).replace(/\u007f/g, "\\u007F");
}

/** `-c key=<TOML string>`. */
const setting = (key: string, value: string) => ["-c", `${key}=${tomlString(value)}`];

function providerArgs(baseUrl: string): string[] {
  const at = `model_providers.${PROVIDER}`;
  return [
    ...setting("model_provider", PROVIDER),
    ...setting(`${at}.name`, PROVIDER),
    ...setting(`${at}.base_url`, baseUrl),
    ...setting(`${at}.wire_api`, "responses"),
    ...setting(`${at}.env_key`, PROVIDER_ENV_KEY),
    "-c",
    `${at}.request_max_retries=${REQUEST_MAX_RETRIES}`,
    "-c",
    `${at}.stream_max_retries=${STREAM_MAX_RETRIES}`,
  ];
}

/**
 * The built-in executor for Codex CLI: one `codex exec --json` per turn, in the workspace
 * directory and its own process group, with `CODEX_HOME` and a private `TMPDIR` under the
 * daemon's control. Resumes the context's thread while its rollout exists; a thread Codex no
 * longer finds is retried once in a new one. Connection retries are bounded
 * (`--disable unbounded_connection_retries`), so an unreachable model API ends the turn.
 */
export function createCodexExecutor(options: AgentExecutorOptions): Executor {
  const log = options.logger;
  const env: NodeJS.ProcessEnv = { ...options.env, CODEX_HOME: options.home, TMPDIR: options.tmpDir };

  // Everything that does not change between turns, before `resume`.
  const fixed = ["exec", "--json", "--skip-git-repo-check", "--disable", "unbounded_connection_retries"];
  if (options.baseUrl) fixed.push(...providerArgs(options.baseUrl));
  if (options.model) fixed.push("-m", options.model);
  if (options.effort) {
    const effort = EFFORTS[options.effort];
    if (effort) fixed.push(...setting("model_reasoning_effort", effort));
    else
      log?.warn(
        { event: "executor.option_ignored", agent: NAME, option: "effort", value: options.effort },
        `effort "${options.effort}" has no Codex equivalent (low, medium, high, xhigh, max); the model's default is used`,
      );
  }
  if (options.systemPrompt) {
    // Added to the thread as a developer message (Codex keeps its own base instructions).
    const bytes = Buffer.byteLength(options.systemPrompt);
    if (bytes <= MAX_INSTRUCTIONS_BYTES) fixed.push(...setting("developer_instructions", options.systemPrompt));
    else
      log?.warn(
        { event: "executor.option_ignored", agent: NAME, option: "systemPrompt", bytes },
        `the workspace's prompt files (${bytes} bytes) are too long for Codex's command line (max ${MAX_INSTRUCTIONS_BYTES}); they are not applied — shorten them`,
      );
  }
  fixed.push(...(options.extraArgs ?? []));

  /** Thread id → its cumulative usage before the turn running in it (turns of one thread never overlap). */
  const before = new Map<string, CodexUsage | undefined>();
  let retriesSeen = 0;
  const inner = createCliAgentExecutor(
    {
      name: NAME,
      session: { agent: NAME, cwd: options.cwd, home: options.home },
      args({ resume }) {
        retriesSeen = 0;
        return [...fixed, ...(resume ? ["resume", resume] : []), "-"];
      },
      read: (maxReplyBytes) =>
        codexRunReader(maxReplyBytes, (facts) =>
          facts.usage
            ? codexTurnUsage(facts.usage, facts.threadId ? before.get(facts.threadId) : undefined, options.model)
            : undefined,
        ),
      onLongLine(value, _note, activity) {
        const event = codexActivityOfValue(value);
        if (event) activity(event);
      },
      onLine(line, note, activity) {
        const event = codexActivityOf(line);
        if (event) {
          activity(event);
          return;
        }
        const attempt = codexRetryOf(line);
        if (attempt === undefined) return;
        retriesSeen += 1;
        note(attempt > 0 ? `model API retry ${attempt}` : "model API unreachable, retrying");
        // Once per turn, at debug: every retry is a progress note, which turns.ts logs (one INFO line a turn).
        if (retriesSeen !== 1) return;
        log?.debug?.(
          { event: "turn.api_retry", agent: NAME, attempt: retriesSeen },
          "the agent is retrying the model API",
        );
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
      },
    },
  );

  /**
   * Codex reports the thread's cumulative usage: the turn's is the difference from the thread's
   * figure before it, read from its rollout (so it survives a daemon restart). A thread that is not
   * resumed after all (its rollout gone) gets a new id, with nothing before it.
   */
  async function runTurn(turn: TurnRequest): Promise<TurnReply> {
    const threadId = await (turn.session ?? options.sessionStore).get().catch(() => undefined);
    if (threadId === undefined) return inner.runTurn(turn);
    before.set(threadId, await threadCumulative(options.home, threadId, "codex"));
    try {
      return await inner.runTurn(turn);
    } finally {
      before.delete(threadId);
    }
  }

  return { ...inner, runTurn };
}
