/**
 * What the core reports as it works. The observability layer implements it with Prometheus
 * metrics and pino logs; the core itself imports neither.
 */
import type { ErrorCode } from '../errors.js';
import type { Identity } from './identity.js';
import type { SessionEndReason } from './session-end.js';

/** Pressure levels, from least to most severe. */
export type PressureLevel = 'ok' | 'warning' | 'shedding' | 'critical';

/** How a zombie was found. */
export type ZombieDetection = 'heartbeat' | 'probe';

/** Why a live connection was evicted. */
export type EvictionReason = 'user_limit' | 'pressure';

/**
 * Which way application messages went: `sent` to a client's socket, `received` from one,
 * `published` by the application or the API (once per call, however many sessions it reaches) and
 * `replayed` to a resuming connection.
 */
export type MessageDirection = 'sent' | 'received' | 'published' | 'replayed';

/** Who an admission was about, as far as it got. */
export interface AdmissionSubject {
  ip: string;
  user?: string;
  session?: string;
}

/** Events the core reports; see the module comment. */
export interface Telemetry {
  /**
   * An upgrade was refused with a code, or admitted: reported once its socket opened, so that a
   * handshake that failed after admission is not counted as one.
   */
  admission(outcome: 'admitted' | ErrorCode, subject: AdmissionSubject): void;
  /** A connection opened; `resumed` when it continued an existing session. */
  opened(identity: Identity, resumed: boolean): void;
  /** A connection's resources were released; `cleanupMs` is from its close to that release. */
  closed(identity: Identity, code: number, cleanupMs: number): void;
  /** A zombie was found and removed. */
  zombie(identity: Identity, via: ZombieDetection): void;
  /** A live connection was evicted to make room. */
  evicted(identity: Identity, reason: EvictionReason): void;
  /** An inbound frame was refused: malformed or over the inbound rate. */
  inboundRejected(identity: Identity, reason: 'bad_frame' | 'rate_limited'): void;
  /** Frames replayed to a resuming connection. */
  replayed(identity: Identity, count: number): void;
  /**
   * Messages went one way; `chars` is the length of their frames' text (bytes for ASCII). Called
   * per message on the hot path: implementations must be O(1) and allocate nothing.
   */
  throughput(direction: MessageDirection, messages: number, chars: number): void;
  /** A resume could not replay the gap. */
  resumeFailed(identity: Identity, reason: string): void;
  /** The pressure level changed. */
  pressure(from: PressureLevel, to: PressureLevel, ratio: number): void;
  /** A session ended and its state was released. */
  sessionEnded(user: string, session: string, reason: SessionEndReason): void;
  /** A shared engine lost its store (admission falls back to this node's limits) or got it back. */
  engineDegraded(degraded: boolean): void;
  /** An application handler or a callback failed; the gateway carried on. */
  failure(where: string, error: unknown, identity?: Identity): void;
}
