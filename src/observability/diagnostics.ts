/**
 * Diagnostics on `node:diagnostics_channel`: admission decisions and connection opens and closes,
 * with their timings, for benchmarks, profilers and leak checks. A channel with no subscriber costs
 * a property read, so the hot paths publish only when someone listens.
 */
import { channel } from 'node:diagnostics_channel';
import type { Identity } from '../core/identity.js';
import type { ErrorCode } from '../errors.js';

/** The channel names, stable across releases. */
export const DIAGNOSTICS_CHANNELS = {
  admission: 'sockwarden:admission',
  connectionOpen: 'sockwarden:connection:open',
  connectionClose: 'sockwarden:connection:close',
} as const;

/** Published on `sockwarden:admission` once an upgrade is decided. */
export interface AdmissionMessage {
  /** `admitted`, or the refusal's error code. */
  outcome: 'admitted' | ErrorCode;
  /** From the upgrade reaching admission to the decision. */
  durationMs: number;
  ip: string;
}

/** Published on `sockwarden:connection:open` when an admitted socket opens. */
export interface ConnectionOpenMessage {
  identity: Identity;
  /**
   * The gateway's connection object. Opaque: its shape is not API. Hold it only weakly (a leak
   * check's FinalizationRegistry, say), or it cannot be collected.
   */
  connection: object;
}

/** Published on `sockwarden:connection:close` once a connection's resources are released. */
export interface ConnectionCloseMessage {
  identity: Identity;
  code: number;
  /** From the close event to every resource of the connection released (the cleanup latency). */
  cleanupMs: number;
}

/** The channels the gateway publishes on. */
export const diagnostics = {
  admission: channel(DIAGNOSTICS_CHANNELS.admission),
  connectionOpen: channel(DIAGNOSTICS_CHANNELS.connectionOpen),
  connectionClose: channel(DIAGNOSTICS_CHANNELS.connectionClose),
};
