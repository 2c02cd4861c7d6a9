/**
 * Reconnect pacing. Full jitter (a uniform delay between 0 and the exponential ceiling) spreads a
 * crowd of clients that lost the same server, so a restart never meets a synchronized stampede.
 */

/** Reconnect pacing options. */
export interface BackoffOptions {
  /** The ceiling of the first delay. Default 500 ms. */
  baseMs: number;
  /** The largest ceiling. Default 30 s. */
  capMs: number;
}

/** Default pacing (docs/architecture.md, "Client SDK"): base 500 ms, cap 30 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): uniform in
 * `[0, min(capMs, baseMs * 2^attempt)]`.
 */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Reads `retry_after_ms=<n>` from a close reason, or undefined when the server gave no hint. */
export function retryHintOf(reason: string): number | undefined {
  const match = /(?:^|[\s;,])retry_after_ms=(\d{1,9})(?:$|[\s;,])/.exec(reason);
  return match ? Number(match[1]) : undefined;
}
