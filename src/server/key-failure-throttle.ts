/**
 * Wrong API keys, counted per client address in a token bucket: a guesser gets a few tries in a
 * burst, then one every few seconds, which turns a guess a second into days per key. The map is
 * bounded and needs no timer: a bucket is refilled when it is next looked at, and one that is full
 * again is forgotten.
 */
import { DEFAULT_IPV6_PREFIX, addressKey as groupAddress } from '../transports/client-address.js';

/** How many wrong keys an address may present. */
export interface KeyFailureLimits {
  /** Wrong keys allowed in a burst before the address is throttled. */
  burst: number;
  /** One more wrong key is allowed every this many ms. */
  refillMs: number;
  /** Addresses tracked at once; past it the one whose last failure is oldest is forgotten. */
  maxAddresses: number;
}

/** The default budget: 10 wrong keys at once, then one every 6 s (10 a minute). */
export const KEY_FAILURE_LIMITS: KeyFailureLimits = { burst: 10, refillMs: 6_000, maxAddresses: 10_000 };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * The key an address is counted under: an IPv4 address (also when mapped into IPv6) as is, an IPv6
 * address by its /64, since one host usually holds a whole /64 and could rotate through it. The
 * grouping is the one per-IP limits use (src/transports/client-address.ts).
 */
export function addressKey(address: string | undefined): string {
  return address === undefined ? 'unknown' : groupAddress(address, DEFAULT_IPV6_PREFIX);
}

/** Wrong-key budgets by client address. */
export class KeyFailureThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: KeyFailureLimits = KEY_FAILURE_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Addresses tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** How long `address` must wait before its next key is even looked at; 0 when it may try now. */
  retryAfterMs(address: string | undefined): number {
    const bucket = this.refilled(addressKey(address));
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * this.limits.refillMs);
  }

  /** Counts one wrong key from `address`; true when it used the last try of the burst. */
  recordFailure(address: string | undefined): boolean {
    const key = addressKey(address);
    const bucket = this.refilled(key) ?? { tokens: this.limits.burst, at: this.now() };
    bucket.tokens -= 1;
    // Re-inserted so that the map's order is by last failure: the first entry is the stalest.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.limits.maxAddresses) {
      const stalest = this.buckets.keys().next().value as string;
      this.buckets.delete(stalest);
    }
    return bucket.tokens < 1;
  }

  /** The bucket of `key` brought up to now, or undefined (and forgotten) once it is full again. */
  private refilled(key: string): Bucket | undefined {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const now = this.now();
    bucket.tokens = Math.min(this.limits.burst, bucket.tokens + (now - bucket.at) / this.limits.refillMs);
    bucket.at = now;
    if (bucket.tokens >= this.limits.burst) {
      this.buckets.delete(key);
      return undefined;
    }
    return bucket;
  }
}
