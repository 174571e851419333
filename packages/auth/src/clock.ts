import { realClock as sharedRealClock } from "@molecule/internal";

/**
 * The house clock (docs/ARCHITECTURE.md), structurally identical to every other package's (packages do not import each
 * other for it), so `createFakeClock()` from `@molecule/testkit` fits.
 */
export interface Clock {
  /** epoch ms */
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock (`@molecule/internal`, inlined at build); its timers are unref'd. @internal */
export const realClock: Clock = sharedRealClock;
