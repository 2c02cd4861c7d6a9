/**
 * A token bucket refilled lazily from a clock reading: no timer per bucket, and an idle bucket
 * costs nothing. Used for per-IP connect rate, per-connection inbound rate and abuse scoring.
 */

/** Rate and burst of a token bucket. */
export interface Rate {
  /** Tokens added per second. */
  perSecond: number;
  /** Capacity: how many tokens can be spent at once. */
  burst: number;
}

/** A lazily refilled token bucket. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.tokens = rate.burst;
    this.updatedAt = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is available. */
  msUntilToken(now: number): number {
    this.refill(now);
    if (this.tokens >= 1 || this.rate.perSecond <= 0) return 0;
    return Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
  }

  /** Whether the bucket is full, so forgetting it changes nothing. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed / 1000) * this.rate.perSecond);
    this.updatedAt = now;
  }
}
