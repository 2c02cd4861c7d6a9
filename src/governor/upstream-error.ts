/**
 * The error an upstream call throws for a failed answer. The governor reads `status` (429 counts as
 * throttled), `retryAfterMs` (never retry sooner), `retryable` (false for answers that another
 * attempt cannot fix, such as a malformed reply) and `countsAgainstUpstream` (whether the circuit
 * breaker may count it: only failures that say the upstream itself is unwell do).
 */

/** Options of {@link UpstreamError}. */
export interface UpstreamErrorOptions {
  /** The upstream's HTTP status, when it answered. */
  status?: number;
  /** The upstream's `Retry-After`, in ms: no retry comes sooner. NaN is ignored, a negative wait is 0. */
  retryAfterMs?: number;
  /** Whether another attempt could succeed; default true. */
  retryable?: boolean;
  /**
   * Whether the circuit breaker counts this failure against the upstream. Default: from `status`
   * (see {@link upstreamAtFault}); true when there is no status (unreachable, reset, no answer).
   */
  countsAgainstUpstream?: boolean;
  cause?: unknown;
}

/**
 * Whether an HTTP status says the upstream is unwell (5xx, 408 timeout, 429 throttled) rather than
 * that it answered on purpose (2xx, 3xx and every other 4xx: it refused what the caller sent, which
 * another caller's request would not be). Only the first kind may open a circuit shared by everyone.
 */
export function upstreamAtFault(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** An upstream's answer that failed; `retryable` ones are retried while the budget lasts. */
export class UpstreamError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  readonly countsAgainstUpstream: boolean;

  constructor(message: string, options: UpstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UpstreamError';
    this.status = options.status;
    const after = options.retryAfterMs;
    // A caller's arithmetic can produce NaN; waiting NaN ms would schedule nonsense on the wheel.
    this.retryAfterMs = after === undefined || Number.isNaN(after) ? undefined : Math.max(0, after);
    this.retryable = options.retryable ?? true;
    this.countsAgainstUpstream =
      options.countsAgainstUpstream ?? (options.status === undefined || upstreamAtFault(options.status));
  }
}

/**
 * Whether the breaker counts a failed attempt against the upstream. Errors that are not
 * UpstreamErrors (unreachable, reset, an aborted read) do. An UpstreamError does when it says the
 * upstream is unwell (see `upstreamAtFault`), except a 429 that will be retried: a throttle the
 * retries absorb is pacing, and one client's throttled calls must not open the circuit for everyone;
 * a 429 the call gives up on counts once.
 */
export function countsAgainstUpstream(failure: unknown, retried: boolean): boolean {
  if (!(failure instanceof UpstreamError)) return true;
  if (!failure.countsAgainstUpstream) return false;
  return failure.status !== 429 || !retried;
}
