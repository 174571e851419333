/**
 * Polls `predicate` (real time) until it returns a truthy value and resolves with it; throws after
 * `timeoutMs`. For state a child process or real I/O changes; tests of our own timers use a fake clock.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
