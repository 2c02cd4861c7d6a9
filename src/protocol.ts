/**
 * Wire protocol `sockwarden.v1`: the close-code table, the frames of both directions, the builders
 * of every frame and the readers of both sides. Server frames are built as strings here, once per
 * message, so that fan-out never re-serializes. No Node imports: the browser SDK loads this module.
 */

/** The WebSocket subprotocol this gateway speaks. */
export const SUBPROTOCOL = 'sockwarden.v1';

/** One close code: what it means and what follows it on both sides. */
export interface CloseCodeSpec {
  /** The code on the wire. */
  readonly code: number;
  /** Its member name in {@link CloseCode}. */
  readonly name: string;
  /** Whether the client SDK reconnects, and so resumes, after it. */
  readonly reconnects: boolean;
  /** Whether the server keeps the session for `resumeWindowMs` after it, or ends it at once. */
  readonly keepsSession: boolean;
  /** The "meaning" cell of the table in docs/protocol.md, which a test holds equal to this. */
  readonly summary: string;
}

/**
 * Every close code the gateway and the SDK give a meaning to, in code order, as docs/protocol.md
 * shows them. The only place that says whether a code reconnects or keeps the session.
 */
// biome-ignore format: a row to two lines, so that it reads as the table it is
export const CLOSE_CODES = [
  { code: 1000, name: 'Normal', reconnects: false, keepsSession: false,
    summary: 'normal closure; from the client, a goodbye that ends the session' },
  { code: 1001, name: 'GoingAway', reconnects: true, keepsSession: true,
    summary: 'going away' },
  { code: 1002, name: 'ProtocolError', reconnects: true, keepsSession: true,
    summary: 'WebSocket protocol error: recorded for a `ws` error other than an oversized frame' },
  { code: 1008, name: 'Policy', reconnects: false, keepsSession: false,
    summary: 'policy' },
  { code: 1009, name: 'TooBig', reconnects: false, keepsSession: false,
    summary: 'frame larger than `maxPayloadBytes`' },
  { code: 1012, name: 'Restart', reconnects: true, keepsSession: true,
    summary: 'restart or drain; reason `retry_after_ms=<n>`, spread over the drain window' },
  { code: 1013, name: 'TryAgainLater', reconnects: true, keepsSession: true,
    summary: 'try again later' },
  { code: 4000, name: 'HeartbeatTimeout', reconnects: true, keepsSession: true,
    summary: 'heartbeat timeout' },
  { code: 4001, name: 'SlowConsumer', reconnects: true, keepsSession: true,
    summary: 'slow consumer: send buffer over `maxBufferedBytes`; the ring holds what was missed' },
  { code: 4002, name: 'MaxLifetime', reconnects: true, keepsSession: true,
    summary: 'max lifetime; reason `retry_after_ms=<n>`' },
  { code: 4003, name: 'TokenExpired', reconnects: true, keepsSession: true,
    summary: 'token expired; the client reconnects with a fresh token' },
  { code: 4004, name: 'Shed', reconnects: true, keepsSession: true,
    summary: 'shed under pressure; reason `retry_after_ms=<n>`' },
  { code: 4100, name: 'Replaced', reconnects: false, keepsSession: true,
    summary: 'replaced by a newer connection of the same session' },
  { code: 4101, name: 'Evicted', reconnects: false, keepsSession: false,
    summary: 'evicted by the per-user limit' },
  { code: 4102, name: 'IdleTimeout', reconnects: false, keepsSession: true,
    summary: 'idle timeout; reconnect on user activity only, resuming within the window' },
  { code: 4103, name: 'DisconnectedByApi', reconnects: false, keepsSession: false,
    summary: 'disconnected by the API or the application' },
  { code: 4104, name: 'Unauthorized', reconnects: false, keepsSession: false,
    summary: 'unauthorized' },
  { code: 4105, name: 'ProtocolViolation', reconnects: false, keepsSession: false,
    summary: 'protocol violation: more than `maxViolations` bad or rate-limited frames within a minute' },
] as const satisfies readonly CloseCodeSpec[];

type CloseCodeRow = (typeof CLOSE_CODES)[number];

/** The close codes by name, from {@link CLOSE_CODES}: `CloseCode.Replaced` is 4100. */
export const CloseCode = Object.fromEntries(CLOSE_CODES.map((row) => [row.name, row.code])) as {
  readonly [Row in CloseCodeRow as Row['name']]: Row['code'];
};

const CLOSE_CODE_BY_NUMBER = new Map<number, CloseCodeSpec>(CLOSE_CODES.map((row) => [row.code, row]));

/** The row of a close code in {@link CLOSE_CODES}, or undefined for a code outside the table. */
export function closeCodeSpec(code: number): CloseCodeSpec | undefined {
  return CLOSE_CODE_BY_NUMBER.get(code);
}

/**
 * Whether a client should reconnect (and resume) after this close code. A code outside the table
 * (1006 for a dropped connection, 1011, any a peer chose) reconnects: only a known final code stops.
 */
export function isReconnectable(code: number): boolean {
  return CLOSE_CODE_BY_NUMBER.get(code)?.reconnects ?? true;
}

/**
 * Whether the server keeps the session for resumption after this close code, rather than ending it
 * at once. A code outside the table keeps it, for the same reason as {@link isReconnectable}.
 */
export function keepsSessionAfterClose(code: number): boolean {
  return CLOSE_CODE_BY_NUMBER.get(code)?.keepsSession ?? true;
}

/** Session ids clients may ask for. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const RESUME_FAILURES = ['expired', 'unknown', 'too_far_behind'] as const;

/** Why a resume could not replay the gap. */
export type ResumeFailure = (typeof RESUME_FAILURES)[number];

const WARNING_REASONS = ['idle', 'lifetime', 'token_expiring', 'pressure'] as const;

/** Reasons carried by `warning` frames. */
export type WarningReason = (typeof WARNING_REASONS)[number];

/** Always the first frame of a connection. */
export interface WelcomeFrame {
  type: 'welcome';
  session: string;
  resumed: boolean;
  /** The last sequence number the session has sent. */
  seq: number;
  heartbeatMs: number;
  resumeFailed?: ResumeFailure;
}

/** Application data; `seq` starts at 1 per session and grows by 1. */
export interface MessageFrame {
  type: 'message';
  seq: number;
  data: unknown;
}

/** A close is coming in `closeInMs`, for `reason`. */
export interface WarningFrame {
  type: 'warning';
  reason: WarningReason;
  closeInMs: number;
}

/** A non-fatal error; `ref` is the client message id it is about. */
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  retryAfterMs?: number;
  ref?: string;
}

/** The answer to an application ping. */
export interface PongFrame {
  type: 'pong';
}

/** A frame the server sends. */
export type ServerFrame = WelcomeFrame | MessageFrame | WarningFrame | ErrorFrame | PongFrame;

/** Builds the `welcome` frame, always the first frame of a connection. */
export function welcomeFrame(
  session: string,
  resumed: boolean,
  seq: number,
  heartbeatMs: number,
  resumeFailed?: ResumeFailure,
): string {
  const frame: WelcomeFrame = {
    type: 'welcome',
    session,
    resumed,
    seq,
    heartbeatMs,
    ...(resumeFailed ? { resumeFailed } : {}),
  };
  return JSON.stringify(frame);
}

/**
 * Builds the text of a {@link MessageFrame} around data that is already JSON text. Concatenated,
 * not stringified: fan-out runs it once per message and session, and the data is JSON already.
 */
export function messageFrame(seq: number, dataJson: string): string {
  return `{"type":"message","seq":${seq},"data":${dataJson}}`;
}

/** Builds a `warning` frame. */
export function warningFrame(reason: WarningReason, closeInMs: number): string {
  const frame: WarningFrame = { type: 'warning', reason, closeInMs };
  return JSON.stringify(frame);
}

/** Builds a non-fatal `error` frame. */
export function errorFrame(
  code: string,
  message: string,
  extra: Pick<ErrorFrame, 'retryAfterMs' | 'ref'> = {},
): string {
  const frame: ErrorFrame = { type: 'error', code, message, ...extra };
  return JSON.stringify(frame);
}

/** The answer to an application ping. */
export const PONG_FRAME = JSON.stringify({ type: 'pong' } satisfies PongFrame);

function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return values.some((known) => known === value);
}

/**
 * Reads one server text frame in the SDK, as leniently as the SDK always has: a frame of a type it
 * does not know, or one it cannot use (a message without a numeric `seq`, a warning for a reason
 * it does not know), yields null and is ignored. Other fields are coerced rather than refused, so a
 * missing number reads as NaN and the caller picks its default. Throws a SyntaxError, as
 * `JSON.parse` does, when the text is not JSON.
 */
export function parseServerFrame(text: string): ServerFrame | null {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) return null;
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case 'welcome': {
      const welcome: WelcomeFrame = {
        type: 'welcome',
        session: String(frame.session),
        resumed: frame.resumed === true,
        seq: Number(frame.seq),
        heartbeatMs: Number(frame.heartbeatMs),
      };
      // A reason this SDK does not know still means the resume failed.
      if (frame.resumeFailed !== undefined)
        welcome.resumeFailed = isOneOf(RESUME_FAILURES, frame.resumeFailed) ? frame.resumeFailed : 'unknown';
      return welcome;
    }
    case 'message':
      return typeof frame.seq === 'number' ? { type: 'message', seq: frame.seq, data: frame.data } : null;
    case 'warning':
      return isOneOf(WARNING_REASONS, frame.reason)
        ? { type: 'warning', reason: frame.reason, closeInMs: Number(frame.closeInMs) }
        : null;
    case 'error': {
      const error: ErrorFrame = { type: 'error', code: String(frame.code), message: String(frame.message) };
      if (typeof frame.retryAfterMs === 'number') error.retryAfterMs = frame.retryAfterMs;
      if (typeof frame.ref === 'string') error.ref = frame.ref;
      return error;
    }
    case 'pong':
      return { type: 'pong' };
    default:
      return null;
  }
}

/** A frame a client sends: what {@link encodeClientFrame} writes and {@link parseClientFrame} accepts. */
export type ClientFrame =
  | { type: 'message'; id?: string; data: unknown }
  | { type: 'ack'; seq: number }
  | { type: 'ping' };

/**
 * The text of a client frame: the SDK builds every frame it sends here. Throws a TypeError when a
 * message's data has no JSON form (undefined, a function), which `JSON.stringify` would drop silently.
 */
export function encodeClientFrame(frame: ClientFrame): string {
  if (frame.type !== 'message') return JSON.stringify(frame);
  const dataJson = JSON.stringify(frame.data);
  if (dataJson === undefined) throw new TypeError(`${typeof frame.data} is not JSON`);
  const id = frame.id === undefined ? '' : `"id":${JSON.stringify(frame.id)},`;
  return `{"type":"message",${id}"data":${dataJson}}`;
}

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
