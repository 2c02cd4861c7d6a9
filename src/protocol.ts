/**
 * Wire protocol `sockwarden.v1`: close codes, server frames and the parser for client frames.
 * Server frames are built as strings here, once per message, so that fan-out never re-serializes.
 */

/** The WebSocket subprotocol this gateway speaks. */
export const SUBPROTOCOL = 'sockwarden.v1';

/** Close codes of docs/architecture.md. The client SDK decides whether to reconnect from these. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Policy: 1008,
  TooBig: 1009,
  Restart: 1012,
  TryAgainLater: 1013,
  HeartbeatTimeout: 4000,
  SlowConsumer: 4001,
  MaxLifetime: 4002,
  TokenExpired: 4003,
  Shed: 4004,
  Replaced: 4100,
  Evicted: 4101,
  IdleTimeout: 4102,
  DisconnectedByApi: 4103,
  Unauthorized: 4104,
  ProtocolViolation: 4105,
} as const;

/** One of the close codes in {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

const NO_RECONNECT = new Set<number>([1008, 1009, 4100, 4101, 4102, 4103, 4104, 4105]);

/** Whether a client should reconnect (and resume) after this close code. 1000 is a deliberate goodbye. */
export function isReconnectable(code: number): boolean {
  return code !== CloseCode.Normal && !NO_RECONNECT.has(code);
}

/** Close codes after which the server keeps the session for resumption. Others end it at once. */
export function keepsSessionAfterClose(code: number): boolean {
  return isReconnectable(code) || code === CloseCode.Replaced || code === CloseCode.IdleTimeout;
}

/** Session ids clients may ask for. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Why a resume could not replay the gap. */
export type ResumeFailure = 'expired' | 'unknown' | 'too_far_behind';

/** Reasons carried by `warning` frames. */
export type WarningReason = 'idle' | 'lifetime' | 'token_expiring' | 'pressure';

/** Builds the `welcome` frame, always the first frame of a connection. */
export function welcomeFrame(
  session: string,
  resumed: boolean,
  seq: number,
  heartbeatMs: number,
  resumeFailed?: ResumeFailure,
): string {
  return JSON.stringify({
    type: 'welcome',
    session,
    resumed,
    seq,
    heartbeatMs,
    ...(resumeFailed ? { resumeFailed } : {}),
  });
}

/** Builds a `message` frame around data that is already JSON text. */
export function messageFrame(seq: number, dataJson: string): string {
  return `{"type":"message","seq":${seq},"data":${dataJson}}`;
}

/** Builds a `warning` frame. */
export function warningFrame(reason: WarningReason, closeInMs: number): string {
  return JSON.stringify({ type: 'warning', reason, closeInMs });
}

/** Builds a non-fatal `error` frame. */
export function errorFrame(
  code: string,
  message: string,
  extra: { retryAfterMs?: number; ref?: string } = {},
): string {
  return JSON.stringify({ type: 'error', code, message, ...extra });
}

/** The answer to an application ping. */
export const PONG_FRAME = '{"type":"pong"}';

/** A client frame that passed validation. */
export type ClientFrame =
  | { type: 'message'; id?: string; data: unknown }
  | { type: 'ack'; seq: number }
  | { type: 'ping' };

/** The result of parsing one client frame: the frame, or a reason naming what was wrong. */
export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; reason: string };

const MAX_CLIENT_ID_LENGTH = 128;

/**
 * Parses one client text frame. Never throws: a bad frame yields a reason that names the problem,
 * so the client gets a `bad_frame` error it can act on and the connection stays up.
 */
export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'frame must be a JSON object' };
  }
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case 'message': {
      if (!('data' in frame)) return { ok: false, reason: 'message frame needs a "data" field' };
      const id = frame.id;
      if (
        id !== undefined &&
        (typeof id !== 'string' || id.length === 0 || id.length > MAX_CLIENT_ID_LENGTH)
      ) {
        return { ok: false, reason: `"id" must be a string of 1 to ${MAX_CLIENT_ID_LENGTH} characters` };
      }
      return {
        ok: true,
        frame:
          id === undefined
            ? { type: 'message', data: frame.data }
            : { type: 'message', id, data: frame.data },
      };
    }
    case 'ack': {
      const seq = frame.seq;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
        return { ok: false, reason: '"seq" must be a non-negative integer' };
      }
      return { ok: true, frame: { type: 'ack', seq } };
    }
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    default:
      return { ok: false, reason: '"type" must be one of message, ack, ping' };
  }
}

/** The `retry_after_ms=<n>` close reason that asks the client for a paced reconnect. */
export function retryAfterReason(ms: number): string {
  return `retry_after_ms=${Math.max(0, Math.round(ms))}`;
}
