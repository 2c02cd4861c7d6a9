/**
 * The error an upstream call throws for a failed answer. The governor reads `status` (429 counts as
 * throttled), `retryAfterMs` (never retry sooner) and `retryable` (false for answers that another
 * attempt cannot fix, such as a malformed reply).
 */

/** An upstream's answer that failed; `retryable` ones are retried while the budget lasts. */
export class UpstreamError extends Error {
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;

  constructor(
    message: string,
    options: { status?: number; retryAfterMs?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UpstreamError';
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable ?? true;
  }
}
