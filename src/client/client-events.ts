/**
 * The events a client emits, with their payloads. Kept apart from the state machine so that
 * applications can import the types without the implementation.
 */
import type { ResumeFailure, WarningReason } from '../protocol.js';
import type { ClientStatus } from './options.js';
import type { UpgradeRefusal } from './socket.js';

/** An error reported by the server (`error` frame) or by the client itself. */
export interface ClientErrorEvent {
  /** A stable code, for example `rate_limited`, `backend_unavailable` or `bad_frame`. */
  code: string;
  message: string;
  /** When the server suggests a retry, in milliseconds. */
  retryAfterMs?: number;
  /** The id of the client message this error is about. */
  ref?: string;
  /** `server` for `error` frames and refused upgrades, `client` for failures the client detected itself. */
  source: 'server' | 'client';
  /** For a refused upgrade: its HTTP status, for example 401 (Node only; browsers cannot see it). */
  status?: number;
}

/** A socket closed. `willReconnect` says whether the client goes on. */
export interface ClientCloseEvent {
  code: number;
  reason: string;
  willReconnect: boolean;
  /** Delay before the next attempt, when reconnecting. */
  retryInMs?: number;
  /** Set when the upgrade was refused with an HTTP status (Node only; browsers cannot see it). */
  refusal?: UpgradeRefusal;
}

/** Events of a {@link SockwardenClient}. */
export interface ClientEvents {
  /** A welcome frame arrived: the connection is usable. */
  open: { session: string; resumed: boolean };
  message: { data: unknown; seq: number };
  /** A reconnect resumed the session; missed messages follow as `message` events. */
  resumed: { session: string; fromSeq: number };
  /** The server could not replay the gap: the application should resync its state. */
  resume_failed: { session: string; reason: ResumeFailure };
  warning: { reason: WarningReason; closeInMs: number };
  error: ClientErrorEvent;
  status: ClientStatus;
  close: ClientCloseEvent;
}
