/**
 * The governor's resolved settings. `src/options.ts` validates the flat, flag-friendly options and
 * `governorConfig()` in the gateway shapes them into this.
 */
import type { Rate } from '../core/token-bucket.js';
import type { BreakerOptions } from './breaker.js';

/** Resolved governor settings. */
export interface GovernorConfig {
  /** Calls in flight across the gateway, and how many may wait for one. */
  maxConcurrent: number;
  maxQueued: number;
  /** Calls in flight per owner (session), and how many may wait. */
  perSessionConcurrent: number;
  perSessionQueued: number;
  /** Attempts per second to each upstream. */
  rate: Rate;
  /** Attempts per call, the first included. */
  maxAttempts: number;
  /** Total time a call may take, waits and backoff included. */
  retryBudgetMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Silence that aborts an attempt; `ctx.progress()` restarts it. */
  attemptTimeoutMs: number;
  breaker: BreakerOptions;
}
