/**
 * Backoff between upstream attempts: exponential with full jitter, and never sooner than the
 * upstream's `Retry-After`. A small jitter is added on top of `Retry-After` too, so that a crowd told
 * "retry in 1 s" does not come back in the same millisecond.
 */

/** Backoff settings. */
export interface BackoffSettings {
  backoffBaseMs: number;
  backoffCapMs: number;
}

/** The wait before attempt `attempt + 1`, after `attempt` attempts failed. */
export function retryDelay(
  attempt: number,
  settings: BackoffSettings,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
  const jitter = Math.floor(random() * ceiling);
  if (retryAfterMs === undefined) return jitter;
  return Math.max(retryAfterMs, jitter) + Math.floor(random() * settings.backoffBaseMs);
}
