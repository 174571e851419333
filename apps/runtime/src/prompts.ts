import { randomUUID } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { TokenStore } from "@molecule/auth";
import type { WorkspaceConfig } from "@molecule/config";
import type { TaskTracker } from "@molecule/heartbeat";
import { writeFileAtomic } from "@molecule/internal";
import { request } from "undici";
import { errorText } from "./errors.js";
import type { Logger } from "./logger.js";

/** Who sends the prompts: this workspace, through the platform's A2A proxy. */
interface SelfSender {
  platformUrl: string;
  workspaceId: string;
  tokens: Pick<TokenStore, "selfSourceHeaders">;
  log: Logger;
}

/** What the lifecycle prompts use. @internal */
export interface PromptsOptions extends SelfSender {
  config: Pick<
    WorkspaceConfig,
    "initial_prompt" | "initial_prompt_file" | "idle_prompt" | "idle_prompt_file" | "idle_interval_seconds"
  >;
  /** Where the prompt files are read from. */
  configDir: string;
  /** Where the `initial_prompt_done` marker is kept. */
  stateDir: string;
  /** The idle prompt waits while a turn runs. */
  tracker: Pick<TaskTracker, "snapshot">;
  /** Whether shutdown has begun (no idle prompt then). */
  draining(): boolean;
}

async function readOptionalText(configDir: string, inline: string | undefined, file: string | undefined) {
  if (inline?.trim()) return inline.trim();
  if (!file) return undefined;
  try {
    return (await readFile(join(configDir, file), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Sends `text` to this workspace through the platform's A2A proxy (as the workspace itself). Never throws. */
async function selfMessage(sender: SelfSender, text: string, why: string): Promise<void> {
  const { log, platformUrl, workspaceId } = sender;
  try {
    const headers = await sender.tokens.selfSourceHeaders(workspaceId);
    const res = await request(new URL(`/workspaces/${workspaceId}/a2a`, platformUrl), {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: randomUUID(),
        method: "message/send",
        params: { message: { role: "user", messageId: randomUUID(), parts: [{ kind: "text", text }] } },
      }),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    await res.body.text();
    log.info({ event: "self_message.sent", why, status: res.statusCode }, "self-message answered");
  } catch (error) {
    log.warn({ event: "self_message.failed", why, err: errorText(error) }, "self-message failed");
  }
}

/**
 * Lifecycle prompts: the initial prompt once per state dir (a marker file, written first, so a crash
 * loop never repeats it), the idle prompt every `idle_interval_seconds` while no turn runs.
 * Resolves to what stops the idle timer (for shutdown). @internal
 */
export async function startPrompts(options: PromptsOptions): Promise<{ stop(): void }> {
  const { config, configDir, stateDir } = options;
  const initialPrompt = await readOptionalText(configDir, config.initial_prompt, config.initial_prompt_file);
  const marker = join(stateDir, "initial_prompt_done");
  if (initialPrompt && !(await stat(marker).catch(() => undefined))) {
    // Marker first: a crash loop must never repeat the initial prompt.
    // Durable (fsync + directory fsync): after a power loss the marker is still there.
    await writeFileAtomic(marker, new Date().toISOString(), { mode: 0o600 });
    void selfMessage(options, initialPrompt, "initial_prompt");
  }
  const idlePrompt = await readOptionalText(configDir, config.idle_prompt, config.idle_prompt_file);
  if (!idlePrompt) return { stop: () => undefined };
  let idleInFlight = false;
  const idleTimer = setInterval(() => {
    if (idleInFlight || options.draining() || options.tracker.snapshot().active > 0) return;
    idleInFlight = true;
    void selfMessage(options, idlePrompt, "idle_prompt").finally(() => {
      idleInFlight = false;
    });
  }, config.idle_interval_seconds * 1000);
  idleTimer.unref();
  return { stop: () => clearInterval(idleTimer) };
}
