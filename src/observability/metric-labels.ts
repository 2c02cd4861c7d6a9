/**
 * The label values each labelled counter is known to take. Every one is created at 0 when the
 * gateway starts, so that `rate()`, `increase()` and the alerts in deploy/prometheus see a series
 * before its first event instead of nothing (a missing series makes a rate absent, not 0).
 * Values outside these lists (an application's own failure site) still appear on first use.
 */
import type { MessageDirection } from '../core/telemetry.js';
import type { ErrorCode } from '../errors.js';
import { CloseCode } from '../protocol.js';

/** Admission outcomes: admitted, or each code an upgrade can be refused with. */
export const ADMISSION_OUTCOMES: readonly ('admitted' | ErrorCode)[] = [
  'admitted',
  'bad_request',
  'draining',
  'origin_not_allowed',
  'connect_rate_limited',
  'unauthenticated',
  'shedding',
  'node_full',
  'cluster_full',
  'engine_unavailable',
  'ip_limit',
  'user_limit',
  'session_limit',
  'queue_timeout',
  'queue_full',
  'user_queue_full',
];

/** Close codes the protocol names, and those a WebSocket reports for a failure. */
export const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  ...Object.values(CloseCode),
  1005,
  1006,
  1011,
]);

/** Every `code` label of `sockwarden_closes_total`: the known codes, and `other`. */
export const CLOSE_CODE_LABELS: readonly string[] = [...[...KNOWN_CLOSE_CODES].map(String), 'other'];

/** How zombies are found (`ZombieDetection`). */
export const ZOMBIE_VIA = ['heartbeat', 'probe'] as const;

/** Why live connections are evicted (`EvictionReason`). */
export const EVICTION_REASONS = ['user_limit', 'pressure'] as const;

/** Why inbound frames are refused. */
export const INBOUND_REASONS = ['bad_frame', 'rate_limited'] as const;

/** Why a resume could not replay the gap (`ResumeFailure` in src/protocol.ts). */
export const RESUME_FAILURE_REASONS = ['expired', 'unknown', 'too_far_behind'] as const;

/** Where the gateway reports failures it carried on after. */
export const FAILURE_SITES = [
  'message handler',
  'session listener',
  'timer',
  'dispose',
  'sample',
  'upgrade',
  'engine',
  'http server',
] as const;

/** Which caps refuse raw sockets. */
export const SOCKET_REFUSALS = ['max_sockets', 'max_sockets_per_ip'] as const;

/** The directions of `sockwarden_messages_total` and `sockwarden_message_chars_total`. */
export const MESSAGE_DIRECTIONS: readonly MessageDirection[] = ['sent', 'received', 'published', 'replayed'];

/** Upstream call outcomes, created at 0 for each configured upstream. */
export const UPSTREAM_OUTCOMES = ['success', 'failure', 'rejected', 'cancelled'] as const;
