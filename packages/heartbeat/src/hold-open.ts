/**
 * A handle of our own that holds the process open while a loop runs, as a listening server does.
 * The loops' timers go through the injected clock (the real one unrefs them), so without it a
 * process whose only job is the loop would exit after the first beat. @internal
 */
export interface HoldOpen {
  acquire(): void;
  release(): void;
}

// About 12 days: the longest a Node timer can wait without being clamped to 1 ms.
const FOREVER_MS = 2 ** 30;

/** `unref: true` returns a no-op: the caller opted out of holding the process. @internal */
export function holdOpen(unref: boolean): HoldOpen {
  let handle: ReturnType<typeof setInterval> | undefined;
  return {
    acquire() {
      if (unref || handle !== undefined) return;
      handle = setInterval(() => {}, FOREVER_MS);
    },
    release() {
      if (handle !== undefined) clearInterval(handle);
      handle = undefined;
    },
  };
}
