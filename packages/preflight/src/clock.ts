/** DESIGN.md's clock (structurally identical to every other package's). */
export interface Clock {
  /** epoch ms */
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers are unref'd so they never keep a process alive. @internal */
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
