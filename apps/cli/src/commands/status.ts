import type { AdminStatus } from "@molecule/runtime/admin";
import { adminSocketPath, type DaemonTarget, fetchDaemonStatus } from "../admin.js";
import { reportCliError } from "../errors.js";
import type { Io } from "../io.js";
import { colorEnabled, createStyle, type Style } from "../style.js";

export interface StatusCommandOptions extends DaemonTarget {
  json?: boolean;
}

/** The last turn's usage on one line: tokens in and out, cache, cost and model where reported (the agent's estimate). */
export function usageText(u: NonNullable<AdminStatus["lastUsage"]>): string {
  const parts = [`${u.input_tokens} in`, `${u.output_tokens} out`];
  if (u.cache_read_input_tokens) parts.push(`${u.cache_read_input_tokens} cache read`);
  if (u.cache_creation_input_tokens) parts.push(`${u.cache_creation_input_tokens} cache write`);
  const tokens = `${parts.join(", ")} tokens`;
  const cost = u.cost_usd !== undefined ? `, $${u.cost_usd.toFixed(4)}` : "";
  const model = u.model ? ` (${u.model})` : "";
  return `${tokens}${cost}${model}, the agent's estimate`;
}

/** Renders the daemon's status as aligned `name  value` lines. */
export function renderStatus(s: AdminStatus, style: Style): string {
  const platform = s.platformStatus ?? "not seen yet";
  const platformText =
    platform === "online" ? style.green(platform) : platform === "not seen yet" ? platform : style.red(platform);
  const wedge = s.wedge.wedged
    ? style.red(`WEDGED: ${s.wedge.reason}${s.wedge.since ? ` (since ${s.wedge.since})` : ""}`)
    : style.green("not wedged");
  const task = s.currentTask
    ? `"${s.currentTask}" (${s.activeTasks} active, ${s.queuedTasks} queued)`
    : s.activeTasks > 0
      ? `${s.activeTasks} active, ${s.queuedTasks} queued`
      : "idle";
  const outcome = s.lastOutcome ?? "no turn yet";
  const rows: [string, string][] = [
    ["Workspace", `${s.workspaceId}  ${s.url}`],
    ["Platform", `${platformText} (as last seen by the heartbeat)`],
    ["Registered", s.registered ? "yes" : style.yellow("no")],
    ["Ready", s.ready ? "yes" : style.yellow(s.draining ? "no (draining)" : "no")],
    ["Wedge", wedge],
    ["Current task", task],
    ["Last turn", s.lastOutcome === undefined || s.lastOutcome === "ok" ? outcome : style.red(outcome)],
    ...(s.lastUsage ? ([["Last usage", usageText(s.lastUsage)]] as [string, string][]) : []),
    ["Beats", `${s.beats.ok} ok, ${s.beats.failed} failed`],
    ["Uptime", `${s.uptimeSeconds} s`],
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(13)}${v}`).join("\n")}\n`;
}

/** `molecule status`: the daemon's view from its admin socket. Exit 1 when no daemon answers. */
export async function statusCommand(options: StatusCommandOptions, io: Io): Promise<number> {
  try {
    const socket = await adminSocketPath(io.env, options);
    const status = await fetchDaemonStatus(socket);
    if (options.json) io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    else io.stdout.write(renderStatus(status, createStyle(colorEnabled(io.stdout, io.env))));
    return 0;
  } catch (error) {
    return reportCliError(error, io);
  }
}
