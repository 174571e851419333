import { CAPABILITY_NAMES, type CapabilityFlags, capabilityFlags } from "@molecule/internal";
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
export const defaultCapabilities: Readonly<RuntimeMetadata["capabilities"]> = Object.freeze(
  capabilityFlags({ heartbeat: true, status_mgmt: true }),
);

/**
 * `RuntimeMetadata` spells its flags out (so the API report shows them); this fails to compile when
 * they drift from the one list, `CAPABILITY_NAMES` in `@molecule/internal`. @internal
 */
export const capabilitiesMatchTheList: [RuntimeMetadata["capabilities"]] extends [CapabilityFlags]
  ? [CapabilityFlags] extends [RuntimeMetadata["capabilities"]]
    ? true
    : never
  : never = true;

/** docs/CONTRACT.md `runtime_metadata`, as `metadata()` must return it. @internal */
export const runtimeMetadataSchema = z.object({
  capabilities: z.object(Object.fromEntries(CAPABILITY_NAMES.map((name) => [name, z.boolean()]))),
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
