/**
 * The resolved, frozen configuration the core reads. `src/options.ts` builds it from user input
 * with validation and defaults; the core never sees unvalidated values.
 */
import type { Rate } from './token-bucket.js';

/** What happens when a user is at `maxConnectionsPerUser`. */
export type PerUserPolicy = 'reject' | 'evict-oldest' | 'queue';

/** Resolved limits and timings of a gateway; see README "Limits and defaults" for each. */
export interface CoreConfig {
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  readonly maxConnectionsPerIp: number;
  readonly maxSessionsPerUser: number;
  readonly perUserPolicy: PerUserPolicy;
  readonly queueTimeoutMs: number;
  readonly maxQueuedUpgrades: number;
  /** Upgrades of one user that may wait at once, so one user cannot fill the queue for everyone. */
  readonly maxQueuedUpgradesPerUser: number;
  readonly probeTimeoutMs: number;
  readonly connectRatePerIp: Readonly<Rate>;
  readonly maxPayloadBytes: number;
  readonly inboundRatePerConnection: Readonly<Rate>;
  readonly maxViolations: number;
  readonly maxBufferedBytes: number;
  readonly highWaterMarkBytes: number;
  readonly replay: Readonly<{ maxMessages: number; maxBytes: number }>;
  readonly resumeWindowMs: number;
  readonly heartbeatIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly warningBeforeCloseMs: number;
  readonly maxLifetimeMs: number;
  readonly drainTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly timerTickMs: number;
  readonly allowedOrigins: readonly string[];
  readonly heapLimitBytes: number;
}
