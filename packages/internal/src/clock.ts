/**
 * The clock shape of docs/ARCHITECTURE.md. Each published package declares its own identical `Clock` (a public
 * type must not come from this private package); `public-types.test-d.ts` keeps them identical.
 */
export interface Clock {
  /** epoch ms */
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. Its timers are unref'd, so a pending timer never keeps a process alive on its own. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(cb, ms) {
    const handle = setTimeout(cb, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
