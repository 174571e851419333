/**
 * The heartbeat's timing as pure functions (the loop only applies them).
 * `random` returns a number in [0, 1), like `Math.random`.
 */

/** `value × (1 ± jitter)`: uniform in [value × (1 − jitter), value × (1 + jitter)). */
export function jittered(value: number, jitter: number, random: () => number): number {
  if (jitter <= 0) return value;
  return value * (1 + jitter * (2 * unit(random) - 1));
}

/**
 * Delay before beat number `beat + 1`, given that beat number `beat` (1-based) just started.
 * The first beat goes at once on `start()`; with `jitter > 0` the second lands at a uniform offset
 * in [0, intervalMs) — so instances started in the same millisecond spread over the whole interval —
 * and every later one `intervalMs × (1 ± jitter)` after the previous. `jitter: 0` is an exact period.
 */
export function nextBeatDelayMs(beat: number, intervalMs: number, jitter: number, random: () => number): number {
  if (jitter <= 0) return intervalMs;
  if (beat === 1) return unit(random) * intervalMs;
  return jittered(intervalMs, jitter, random);
}

/**
 * A per-loop offset in [0, intervalMs) for work that may wait up to one interval without harm (a
 * re-register after a long outage, the platform check after a recovery): a fleet that recovers
 * together spreads it over the interval instead of sending it all at once. `jitter: 0` is exact
 * timing: no offset.
 */
export function spreadDelayMs(intervalMs: number, jitter: number, random: () => number): number {
  if (jitter <= 0) return 0;
  return unit(random) * intervalMs;
}

/**
 * Which of every `every` successful beats carries this loop's platform check: a per-loop phase in
 * [0, every), drawn once, so loops started together do not check on the same beat. `jitter: 0`: 0.
 */
export function checkPhase(every: number, jitter: number, random: () => number): number {
  if (jitter <= 0 || every <= 1) return 0;
  return Math.floor(unit(random) * every);
}

/**
 * Wait after the n-th consecutive 5xx / 429 / transport failure (n ≥ 1):
 * `min(intervalMs, 1_000 × 2^(n−1)) × (1 ± jitter)`, or the `Retry-After` if that is larger — a
 * Retry-After is honoured up to `intervalMs`, never beyond.
 */
export function backoffDelayMs(
  n: number,
  intervalMs: number,
  jitter: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const exponent = Math.min(Math.max(1, Math.floor(n)), 64) - 1;
  const base = Math.min(intervalMs, 1_000 * 2 ** exponent);
  const delay = jittered(base, jitter, random);
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > delay) {
    return Math.max(delay, Math.min(retryAfterMs, intervalMs));
  }
  return delay;
}

/** `Retry-After` (delta-seconds or an HTTP date) in ms from `nowMs`, or undefined. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function unit(random: () => number): number {
  const r = random();
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 0.999_999_999) : 0.5;
}
