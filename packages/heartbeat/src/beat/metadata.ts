import { CAPABILITY_NAMES, type CapabilityFlags, capabilityFlags } from "@molecule/internal";
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

/** Zod's name for a value's type in an "expected …, received …" message. */
function received(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  }
  if (value instanceof Date) return "Date";
  return typeof value;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * docs/CONTRACT.md `runtime_metadata`, as `metadata()` must return it: every flag of the one list a
 * boolean, `idle_timeout_seconds` absent or a positive safe integer. Checked by hand, with zod's
 * words (`z.object({ capabilities: z.object({ <flag>: z.boolean() }), idle_timeout_seconds:
 * z.int().positive().optional() })`; a test holds the two to the same answers): zod is not loaded
 * before the first beat. @internal
 */
function metadataIssues(value: unknown): string[] {
  if (!isObject(value)) return [`(the result): Invalid input: expected object, received ${received(value)}`];
  const issues: string[] = [];
  const capabilities = value.capabilities;
  if (!isObject(capabilities)) {
    issues.push(`capabilities: Invalid input: expected object, received ${received(capabilities)}`);
  } else {
    for (const name of CAPABILITY_NAMES) {
      const flag = capabilities[name];
      if (typeof flag !== "boolean") {
        issues.push(`capabilities.${name}: Invalid input: expected boolean, received ${received(flag)}`);
      }
    }
  }
  const idle = value.idle_timeout_seconds;
  if (idle !== undefined) {
    if (typeof idle !== "number" || !Number.isFinite(idle)) {
      issues.push(`idle_timeout_seconds: Invalid input: expected number, received ${received(idle)}`);
    } else if (!Number.isInteger(idle)) {
      issues.push("idle_timeout_seconds: Invalid input: expected int, received number");
    } else if (idle > Number.MAX_SAFE_INTEGER) {
      issues.push(`idle_timeout_seconds: Too big: expected int to be <=${Number.MAX_SAFE_INTEGER}`);
    } else if (idle <= 0) {
      issues.push("idle_timeout_seconds: Too small: expected number to be >0");
    }
  }
  return issues;
}

/** The first problems (at most 3) of a `metadata()` result, naming the field, or undefined when it is valid. @internal */
export function metadataProblem(value: unknown): string | undefined {
  const issues = metadataIssues(value);
  return issues.length === 0 ? undefined : issues.slice(0, 3).join("; ");
}
