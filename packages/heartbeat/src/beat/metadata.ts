import * as z from "zod";
import type { RuntimeMetadata } from "./body.js";

/**
 * A starting point for `runtime_metadata.capabilities`: a runtime that sends its own heartbeats and
 * reports its own state (wedged, error rate) — what a `createHeartbeat` adapter does. Spread it and
 * set what your runtime also does itself:
 * `metadata: () => ({ capabilities: { ...defaultCapabilities, session: true } })`.
 *
 * Each flag tells the platform that the runtime does that part itself (docs/CONTRACT.md
 * `runtime_metadata`):
 * - `heartbeat`: it sends heartbeats on its own schedule (true whenever this package beats).
 * - `scheduler`: it runs scheduled work itself, so the platform's scheduler should not.
 * - `session`: it keeps the agent's conversation across turns (resumes a session).
 * - `status_mgmt`: it reports its own state (`runtime_state`, `error_rate`); the platform trusts it.
 * - `retry`: it retries a failed agent call itself, so the platform should not retry the message.
 * - `activity_decoration`: it decorates activity (task labels, progress) itself.
 * - `channel_dispatch`: it delivers messages to external channels itself.
 */
export const defaultCapabilities: Readonly<RuntimeMetadata["capabilities"]> = Object.freeze({
  heartbeat: true,
  scheduler: false,
  session: false,
  status_mgmt: true,
  retry: false,
  activity_decoration: false,
  channel_dispatch: false,
});

const flag = z.boolean();

/** docs/CONTRACT.md `runtime_metadata`, as `metadata()` must return it. @internal */
export const runtimeMetadataSchema = z.object({
  capabilities: z.object({
    heartbeat: flag,
    scheduler: flag,
    session: flag,
    status_mgmt: flag,
    retry: flag,
    activity_decoration: flag,
    channel_dispatch: flag,
  }),
  idle_timeout_seconds: z.int().positive().optional(),
});

/** The first problem of a `metadata()` result, naming the field, or undefined when it is valid. @internal */
export function metadataProblem(value: unknown): string | undefined {
  const parsed = runtimeMetadataSchema.safeParse(value);
  if (parsed.success) return undefined;
  return parsed.error.issues
    .slice(0, 3)
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join(".") : "(the result)";
      return `${field}: ${issue.message}`;
    })
    .join("; ");
}
