import { randomUUID } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@molecule/internal";
import { request } from "undici";
import { errorText, type RuntimeContext } from "./context.js";

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
async function selfMessage(ctx: RuntimeContext, text: string, why: string): Promise<void> {
  const { log, platformUrl, workspaceId } = ctx;
  try {
    const headers = await ctx.tokens.selfSourceHeaders(workspaceId);
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
 * Records the idle timer in `ctx.parts.prompts` for shutdown. @internal
 */
export async function startPrompts(ctx: RuntimeContext): Promise<void> {
  const { config, configDir, stateDir } = ctx;
  const initialPrompt = await readOptionalText(configDir, config.initial_prompt, config.initial_prompt_file);
  const marker = join(stateDir, "initial_prompt_done");
  if (initialPrompt && !(await stat(marker).catch(() => undefined))) {
    // Marker first: a crash loop must never repeat the initial prompt.
    // Durable (fsync + directory fsync): after a power loss the marker is still there.
    await writeFileAtomic(marker, new Date().toISOString(), { mode: 0o600 });
    void selfMessage(ctx, initialPrompt, "initial_prompt");
  }
  const idlePrompt = await readOptionalText(configDir, config.idle_prompt, config.idle_prompt_file);
  if (!idlePrompt) return;
  let idleInFlight = false;
  const idleTimer = setInterval(() => {
    if (idleInFlight || ctx.state.draining || ctx.tasks.snapshot().active > 0) return;
    idleInFlight = true;
    void selfMessage(ctx, idlePrompt, "idle_prompt").finally(() => {
      idleInFlight = false;
    });
  }, config.idle_interval_seconds * 1000);
  idleTimer.unref();
  ctx.parts.prompts = { stop: () => clearInterval(idleTimer) };
}
