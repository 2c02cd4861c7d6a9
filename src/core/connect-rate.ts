/**
 * The per-IP connect rate: one token bucket per address, created on its first upgrade and
 * forgotten once full again, so the map is bounded by recent activity rather than by every address
 * ever seen. A rate or burst of 0 turns the limit off: then no bucket is kept at all.
 */
import { type Rate, TokenBucket } from './token-bucket.js';

/** See the module comment. */
export class ConnectRate {
  private readonly buckets = new Map<string, TokenBucket>();

  private readonly off: boolean;

  constructor(private readonly limit: Rate) {
    this.off = limit.perSecond <= 0 || limit.burst <= 0;
  }

  /** Takes a token for `ip`; returns null when there was one (or the limit is off), or how long until the next one. */
  take(ip: string, now: number): number | null {
    if (this.off) return null;
    let bucket = this.buckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(this.limit, now);
      this.buckets.set(ip, bucket);
    }
    return bucket.take(now) ? null : bucket.msUntilToken(now);
  }

  /** Forgets full buckets: they carry no information. Called from the gateway's maintenance tick. */
  prune(now: number): void {
    for (const [ip, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(ip);
  }
}
