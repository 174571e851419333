/**
 * The flags of docs/CONTRACT.md `runtime_metadata.capabilities`, in the contract's order: each tells
 * the platform that the runtime does that part itself. The one list the heartbeat's body type and
 * schema, its defaults and the runtime's metadata are written against.
 */
export const CAPABILITY_NAMES = [
  "heartbeat",
  "scheduler",
  "session",
  "status_mgmt",
  "retry",
  "activity_decoration",
  "channel_dispatch",
] as const;

/** One `runtime_metadata.capabilities` flag name. */
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** A full `runtime_metadata.capabilities` object: every flag, true or false. */
export type CapabilityFlags = { [K in CapabilityName]: boolean };

/** Every flag set from `enabled` (the others false), in the contract's order. */
export function capabilityFlags(enabled: Partial<CapabilityFlags> = {}): CapabilityFlags {
  const flags = {} as CapabilityFlags;
  for (const name of CAPABILITY_NAMES) flags[name] = enabled[name] === true;
  return flags;
}
