import type { TurnOutcome } from "@molecule/heartbeat";
import type { Check } from "@molecule/preflight";
import type { SessionStore } from "@molecule/session";

export type { TurnOutcome };

/**
 * The abort reason a turn's `signal` carries when the daemon shuts down and the grace budget for
 * the turn in flight has run out (the scheduler aborts with it; executors end the agent sooner). @internal
 */
export const SHUTDOWN = "shutdown";

/** One turn handed to an executor. */
export interface TurnRequest {
  /** The task id (the A2A message's taskId or messageId). */
  taskId: string;
  /** The user's message, as text. */
  text: string;
  /** Aborted on `tasks/cancel` and on shutdown when the grace budget runs out. */
  signal: AbortSignal;
  /**
   * Report progress (e.g. "model API retry 2/10", a rate-limit wait): logged, and sent to A2A
   * callers that stream the task as a `working` status update.
   */
  progress(note: string): void;
  /**
   * Report what the agent does: a tool call, its result, thinking text. The daemon bounds and masks
   * each summary and streams it to A2A callers as a `working` status update with a `data` part.
   * Optional for callers that run an executor outside the daemon.
   */
  activity?(event: TurnActivity): void;
  /**
   * The A2A context (conversation) this turn belongs to: the caller's `contextId`, or the
   * workspace's default context. Turns of one context never run at the same time.
   */
  contextId?: string;
  /**
   * Where this conversation's agent session id lives (resume it before the turn, record it after).
   * Absent for the default context: the executor's own store (e.g. `sessionStore` of the
   * Claude Code executor). Executors without sessions ignore it.
   */
  session?: SessionStore;
}

/**
 * What a turn came to. The daemon does the side effects for every executor alike:
 * `ok` clears the wedge and the observed auth failure, `auth` holds readiness down,
 * `wedged` marks the process wedged with `wedgeReason`.
 */
export interface TurnReply {
  outcome: TurnOutcome;
  /** The agent's answer (for `ok`). */
  text?: string;
  /** Safe for the caller: no stderr, no secrets. Defaults to a generic text per outcome. */
  error?: string;
  /** Full detail for the (redacted) log only; never sent to the caller. */
  detail?: string;
  /** For `wedged`: the short, operator-actionable reason. */
  wedgeReason?: string;
  /** The model's token usage for the turn, when the agent reports it: the A2A result's `metadata.usage`, the turn's log line and the metrics. */
  usage?: TurnUsage;
}

/**
 * A turn's token usage as the agent reports it (its own estimate), with the field names every
 * agent's usage is given in. For this turn only: a resumed conversation's earlier turns are not in it.
 */
export interface TurnUsage {
  /** Tokens sent to the model (an OpenAI-compatible API's `prompt_tokens`), cache reads not included where the agent tells them apart. */
  input_tokens: number;
  /** Tokens the model produced (`completion_tokens`). */
  output_tokens: number;
  /** Input tokens read from the model's prompt cache, where the agent reports them. */
  cache_read_input_tokens?: number;
  /** Input tokens written to the model's prompt cache, where the agent reports them. */
  cache_creation_input_tokens?: number;
  /** The turn's cost in US dollars, when the agent computes one (Claude Code's `total_cost_usd`). */
  cost_usd?: number;
  /** The model that did (most of) the work, as the agent names it. */
  model?: string;
}

/**
 * One thing the agent did during a turn, as its output tells it. `input` / `output` may be any JSON
 * value or text: the daemon turns it into a short, secret-masked summary.
 */
export type TurnActivity =
  | { kind: "tool_call"; tool: string; id?: string; input?: unknown }
  | { kind: "tool_result"; tool?: string; id?: string; output?: unknown; error?: boolean }
  | { kind: "thinking"; text: string };

/** What adapter authors implement to run another agent inside the daemon. */
export interface Executor {
  readonly name: string;
  /**
   * What this executor needs to work (its binary, its credentials…), as preflight checks
   * (`defineCheck` from `@molecule/preflight`). With `startRuntime({ executor })` they replace the
   * checks of `config.runtime`'s agent at boot and in the readiness gate; none means nothing to check.
   */
  readonly checks?: readonly Check[];
  runTurn(turn: TurnRequest): Promise<TurnReply>;
  /** Called once on shutdown. */
  close?(): Promise<void>;
}

/** The reply text the caller sees for a failed turn. Never the agent's own output. @internal */
export function safeError(reply: TurnReply, timeoutSeconds: number): string {
  if (reply.error) return reply.error;
  switch (reply.outcome) {
    case "auth":
      return "agent is not logged in — re-login required";
    case "wedged":
      return `agent runtime is wedged (${reply.wedgeReason ?? "unknown reason"})`;
    case "timeout":
      return timeoutSeconds > 0 ? `the agent did not finish within ${timeoutSeconds} s` : "the agent did not finish";
    case "crash":
      return "the agent process could not be started or crashed";
    case "rate-limited":
      return "the model API is rate-limited or overloaded; try again later";
    case "cancelled":
      return "the turn was cancelled";
    case "busy":
      return "the workspace is busy; try again later";
    case "bad-request":
      return "the request could not be handled";
    default:
      return "the agent failed to produce a result";
  }
}
