/**
 * What the governor reports: figures per upstream for `/api/stats`, and hooks for `/metrics`.
 */
import type { CircuitStateName } from './breaker.js';

/** Figures of one upstream, for `/api/stats` under `upstream` and for `/metrics`. */
export interface UpstreamStats {
  circuit: CircuitStateName;
  requests: number;
  successes: number;
  failures: number;
  /** 429 answers seen. */
  throttled: number;
  retries: number;
  /** Refused at once: queue full or circuit open. */
  rejected: number;
  cancelled: number;
  inFlight: number;
  queued: number;
  /** successes / (successes + failures), 1 before any call. */
  successRate: number;
}

/** Hooks for metrics. */
export interface GovernorObserver {
  outcome(upstream: string, outcome: 'success' | 'failure' | 'rejected' | 'cancelled'): void;
  retry(upstream: string): void;
  throttled(upstream: string): void;
  circuit(upstream: string, state: CircuitStateName): void;
}
