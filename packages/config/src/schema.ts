import * as z from "zod";

/** The `effort` values the agent understands. */
export const EFFORT_LEVELS = ["low", "medium", "high", "xhigh", "max"] as const;

const str = z.string();
const strList = z.array(z.string());
/**
 * The `runtime` of a config that names none: @molecule/auth's `DEFAULT_AGENT` (the agent registry's
 * default). Written here because this package does not depend on @molecule/auth (a published
 * package); the repository-rules test pins the two equal.
 */
const DEFAULT_RUNTIME = "claude-code";
const nonNegative = z.number().min(0);

const runtimeConfigSchema = z.looseObject({
  /** Agent command for the `command` runtime; an absolute path overrides the binary of any runtime. */
  command: str.optional(),
  args: strList.default([]),
  /** Env vars that must be present and non-empty. */
  required_env: strList.default([]),
  /** Groups of env vars; each group is satisfied by any one non-empty var. */
  required_env_any_of: z.array(strList).default([]),
  /**
   * Seconds a turn may take before the agent's process group is killed; 0 = no limit. Unset: the
   * runtime's default (1800 s for a built-in agent, no limit for the `command` runtime).
   */
  timeout: nonNegative.optional(),
  /**
   * The model API's base URL, spelled as that API's own clients spell it (gateways, proxies, fakes):
   * Claude Code and Gemini CLI take the host root (`http://127.0.0.1:8080`), Codex and an
   * OpenAI-compatible endpoint (`runtime: ollama`, default `http://127.0.0.1:11434/v1`) include `/v1`.
   */
  base_url: z.url({ protocol: /^https?$/, error: "base_url must be an http(s) URL" }).optional(),
  model: str.optional(),
  /**
   * For an agent whose history the daemon keeps (an OpenAI-compatible endpoint): the messages kept
   * per conversation, oldest dropped first. Unset: 50.
   */
  max_history_messages: z.int().min(2).optional(),
  /**
   * The most of an agent's answer the caller gets, in bytes (UTF-8); a longer answer is cut there
   * with a marker (and a WARN), never dropped. Unset: 8 MiB.
   */
  max_reply_bytes: z
    .int()
    .min(1024)
    .max(256 * 1024 * 1024)
    .optional(),
  /**
   * For `runtime: adapter`: the adapter module, a package name (resolved from the config dir, then
   * from the daemon's own install) or a path relative to the config dir. `MOLECULE_ADAPTER_MODULE` wins.
   */
  module: str.min(1).optional(),
  /** @deprecated name the env var holding the agent's token. */
  auth_token_env: str.optional(),
  /** @deprecated a file holding the agent's token (may point at a mounted secret outside the config dir). */
  auth_token_file: str.optional(),
});

const a2aSchema = z.looseObject({
  /** 0 picks a free port. */
  port: z.int().min(0).max(65535).default(8000),
  /** `message/stream` / `SendStreamingMessage` (SSE); false turns them off and the card says so. */
  streaming: z.boolean().default(true),
  /** A2A push notifications: not implemented by the daemon; true only warns in preflight. */
  push_notifications: z.boolean().default(false),
  /** Open connections the A2A server accepts at once (turns, queue, streams and probes included). */
  max_connections: z.int().min(1).default(256),
  /**
   * A second listener serving only `/livez`, `/readyz` and `/metrics` (0 picks a free port), so the
   * orchestrator's probes answer when the A2A connections are all taken. Unset: none.
   */
  probe_port: z.int().min(0).max(65535).optional(),
  /**
   * Inbound authentication on the A2A endpoint: `none`, or `bearer` (an `Authorization: Bearer`
   * token from `auth_token_file`). `/livez`, `/readyz` and the agent card stay open.
   */
  auth: z.enum(["none", "bearer"]).default("none"),
  /** With `auth: bearer`: the accepted tokens, one a line (several overlap a rotation); re-read on change. */
  auth_token_file: str.min(1).optional(),
  /** With `auth: bearer`: `/metrics` asks for the token too (default false: open, as Prometheus scrapes expect). */
  metrics_auth: z.boolean().default(false),
  /**
   * `auth: none` on an address beyond loopback is refused unless this is true (or the env var
   * `MOLECULE_A2A_ALLOW_UNAUTHENTICATED=1`): anyone who reaches the port runs the agent.
   */
  allow_unauthenticated: z.boolean().default(false),
  /**
   * Task records (ids, state, reply or safe error, usage) kept in the state dir, so `tasks/get` still
   * answers after a restart (a task that was running then is failed as interrupted). false: memory only.
   */
  persist_tasks: z.boolean().default(true),
  /** Stream the agent's thinking text as status updates (default false: tool calls and results only). */
  stream_thinking: z.boolean().default(false),
});

const sessionsSchema = z.looseObject({
  /** Conversations (A2A contexts) remembered; the least recently used beyond this are forgotten. */
  max_contexts: z.int().min(1).default(256),
});

const delegationSchema = z.looseObject({
  retry_attempts: z.int().min(0).default(3),
  /** seconds */
  retry_delay: nonNegative.default(5),
  /** seconds */
  timeout: z.number().positive().default(120),
  escalate: z.boolean().default(true),
  poll_interval_seconds: z.number().positive().default(30),
});

const heartbeatSchema = z.looseObject({
  interval_seconds: z.number().positive().default(30),
  /** Fraction of the interval (0–1) each beat is spread by. */
  jitter: z.number().min(0).max(1).default(0.1),
  /** The platform's liveness TTL: an outage longer than this ends with a re-register. */
  ttl_seconds: z.number().positive().default(180),
});

/** The schema of a workspace's config.yaml. Unknown keys are kept (and reported as warnings by `loadConfig`). */
export const workspaceConfigSchema = z.looseObject({
  name: str.default("Workspace"),
  description: str.default(""),
  role: str.default(""),
  version: z.union([z.string(), z.number().transform((n) => String(n))]).default("1.0.0"),
  tier: z.int().min(1).max(4).default(1),
  model: str.optional(),
  runtime: str.min(1).default(DEFAULT_RUNTIME),
  runtime_config: runtimeConfigSchema.default(() => runtimeConfigSchema.parse({})),
  initial_prompt: str.optional(),
  initial_prompt_file: str.optional(),
  idle_prompt: str.optional(),
  idle_prompt_file: str.optional(),
  /** seconds, at least 60 */
  idle_interval_seconds: z.number().min(60).default(600),
  skills: strList.default([]),
  plugins: strList.default([]),
  tools: strList.default([]),
  /**
   * Files (relative to the config dir) appended to the agent's system prompt. Absent: the runtime
   * reads `system-prompt.md` when it exists, and preflight says nothing when it does not (it warns
   * only about files the config names).
   */
  prompt_files: strList.optional(),
  shared_context: strList.default([]),
  a2a: a2aSchema.default(() => a2aSchema.parse({})),
  max_concurrent_tasks: z.int().min(1).default(1),
  queue_size: z.int().min(0).default(16),
  delegation: delegationSchema.default(() => delegationSchema.parse({})),
  heartbeat: heartbeatSchema.default(() => heartbeatSchema.parse({})),
  sessions: sessionsSchema.default(() => sessionsSchema.parse({})),
  effort: z.enum(EFFORT_LEVELS).optional(),
  /** Tokens per task; 0 = no budget, otherwise at least 20000. */
  task_budget: z
    .int()
    .min(0)
    .refine((n) => n === 0 || n >= 20_000, { message: "must be 0 (no budget) or at least 20000" })
    .default(0),
});

/** A parsed config.yaml with every default filled in. */
export type WorkspaceConfig = z.infer<typeof workspaceConfigSchema>;
/** What config.yaml may contain (before defaults). */
export type WorkspaceConfigInput = z.input<typeof workspaceConfigSchema>;

/** Known keys per mapping, for unknown-key warnings. `""` is the top level. @internal */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(workspaceConfigSchema.shape),
  runtime_config: Object.keys(runtimeConfigSchema.shape),
  a2a: Object.keys(a2aSchema.shape),
  delegation: Object.keys(delegationSchema.shape),
  heartbeat: Object.keys(heartbeatSchema.shape),
  sessions: Object.keys(sessionsSchema.shape),
};
