/**
 * Options of the client SDK, their defaults and their validation. A wrong option throws at
 * `connect()` with `invalid_config` naming it, before any socket is opened.
 */
import { SockwardenError } from '../errors.js';
import { SESSION_ID_PATTERN } from '../protocol.js';
import { DEFAULT_BACKOFF } from './backoff.js';

/** Connection status of a client. */
export type ClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What a received message carries besides its data. */
export interface MessageInfo {
  /** The session's sequence number of this message. */
  seq: number;
}

/** Options of `connect()`. */
export interface ConnectOptions {
  /** A fixed bearer token, sent as `?token=`. */
  token?: string;
  /** Called before every connection attempt (so after 4003 the client gets a fresh token). */
  getToken?: () => string | Promise<string>;
  /** Session to resume or create; default a new session chosen by the server. */
  session?: string;
  /** Last sequence number the application already has for `session` (for example from storage). */
  lastSeq?: number;
  /** Extra query parameters, for example `{ user }` against a gateway in insecure development mode. */
  params?: Record<string, string>;
  /** Called for every application message, once per sequence number. */
  onMessage?: (data: unknown, info: MessageInfo) => void;
  /** Called on every status change. */
  onStatus?: (status: ClientStatus) => void;
  /** Ceiling of the first reconnect delay. Default 500 ms. */
  backoffBaseMs?: number;
  /** Largest reconnect delay. Default 30 s. */
  backoffCapMs?: number;
  /** Reconnect attempts in a row before giving up. Default unlimited (delays stay capped). */
  maxReconnectAttempts?: number;
  /** A connection that lasted this long resets the backoff. Default 10 s. */
  stableAfterMs?: number;
  /** Silence after which the client pings. Default: `heartbeatMs` of the welcome frame. */
  heartbeatMs?: number;
  /** How long to wait for any frame after a ping before reconnecting. Default 10 s. */
  pongTimeoutMs?: number;
  /** Messages `send` may queue while disconnected. Default 100. */
  maxQueuedMessages?: number;
  /** How soon received messages are acknowledged, freeing the server's replay ring. Default 250 ms. */
  ackDelayMs?: number;
  /** Random source in [0, 1) for jitter; tests pass a fixed one. */
  random?: () => number;
}

/** Options with defaults applied. */
export interface ResolvedClientOptions {
  url: URL;
  token: string | undefined;
  getToken: (() => string | Promise<string>) | undefined;
  session: string | undefined;
  lastSeq: number;
  params: Record<string, string>;
  backoff: { baseMs: number; capMs: number };
  maxReconnectAttempts: number;
  stableAfterMs: number;
  heartbeatMs: number | undefined;
  pongTimeoutMs: number;
  maxQueuedMessages: number;
  ackDelayMs: number;
  random: () => number;
}

function invalid(option: string, message: string): SockwardenError {
  return new SockwardenError('invalid_config', `option '${option}' ${message}`, { field: option });
}

function duration(options: ConnectOptions, key: keyof ConnectOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalid(key, `must be a non-negative number of milliseconds, got ${String(value)}`);
  return value;
}

function positiveInteger(options: ConnectOptions, key: keyof ConnectOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw invalid(key, `must be a positive integer, got ${String(value)}`);
  return value;
}

/** Validates `connect()` arguments; throws `invalid_config` naming the first wrong option. */
export function resolveClientOptions(url: string | URL, options: ConnectOptions): ResolvedClientOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new SockwardenError('invalid_config', `option 'url' is not a valid URL: ${String(url)}`, {
      field: 'url',
      cause,
    });
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')
    throw invalid('url', `must start with ws:// or wss://, got ${parsed.protocol}//`);
  if (options.token !== undefined && options.getToken !== undefined)
    throw invalid('token', 'and getToken are exclusive: pass one of them');
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === ''))
    throw invalid('token', 'must be a non-empty string');
  if (options.getToken !== undefined && typeof options.getToken !== 'function')
    throw invalid('getToken', 'must be a function returning the token');
  if (options.session !== undefined && !SESSION_ID_PATTERN.test(options.session))
    throw invalid('session', 'must match [A-Za-z0-9_-]{1,64}');
  const lastSeq = options.lastSeq ?? 0;
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0)
    throw invalid('lastSeq', 'must be a non-negative integer');
  if (lastSeq > 0 && options.session === undefined)
    throw invalid('lastSeq', 'needs the session it belongs to (option session)');
  const baseMs = duration(options, 'backoffBaseMs', DEFAULT_BACKOFF.baseMs);
  const capMs = duration(options, 'backoffCapMs', DEFAULT_BACKOFF.capMs);
  if (capMs < baseMs) throw invalid('backoffCapMs', `(${capMs}) must not be below backoffBaseMs (${baseMs})`);
  const heartbeatMs = options.heartbeatMs === undefined ? undefined : duration(options, 'heartbeatMs', 0);
  if (heartbeatMs === 0) throw invalid('heartbeatMs', 'must be above 0');
  return {
    url: parsed,
    token: options.token,
    getToken: options.getToken,
    session: options.session,
    lastSeq,
    params: { ...options.params },
    backoff: { baseMs, capMs },
    maxReconnectAttempts: positiveInteger(options, 'maxReconnectAttempts', Number.POSITIVE_INFINITY),
    stableAfterMs: duration(options, 'stableAfterMs', 10_000),
    heartbeatMs,
    pongTimeoutMs: duration(options, 'pongTimeoutMs', 10_000),
    maxQueuedMessages: positiveInteger(options, 'maxQueuedMessages', 100),
    ackDelayMs: duration(options, 'ackDelayMs', 250),
    random: options.random ?? Math.random,
  };
}
