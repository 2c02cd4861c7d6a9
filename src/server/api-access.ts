/**
 * Who may call the HTTP API (and, through it, the dashboard and a protected `/metrics`): the API
 * key, or loopback callers in `--insecure` mode with no key. Every key a client presents goes
 * through one {@link ApiKeyGuard}, which compares it in constant time and throttles an address that
 * keeps presenting wrong ones, so the key cannot be guessed online.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { SockwardenError } from '../errors.js';
import {
  addressKey,
  KEY_FAILURE_LIMITS,
  type KeyFailureLimits,
  KeyFailureThrottle,
} from './key-failure-throttle.js';

/** Whether `/metrics` is open to anyone (`open`) or needs the API's access rule (`key`). */
export type MetricsAccess = 'open' | 'key';

/** Who may call the API. */
export interface ApiAccess {
  /** The API key, or undefined when none was configured. */
  apiKey: string | undefined;
  /** With no key: whether loopback callers may use the API (insecure development mode). */
  openOnLoopback: boolean;
  /** Who may scrape `/metrics`; default `open`, like most exporters. */
  metrics?: MetricsAccess;
}

/**
 * The shortest API key accepted. A short key falls to an online guess in seconds; 16 characters of
 * `openssl rand -hex 32` output take longer than the throttle leaves anyone.
 */
export const MIN_API_KEY_LENGTH = 16;

/** Whether a socket's remote address is this machine. */
function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
  );
}

/**
 * Whether a `Host` header names this machine (`localhost`, a `.localhost` name, 127.x.y.z or
 * `[::1]`, with any port). A page on another site can make a browser on loopback send requests to
 * the gateway through DNS rebinding: its own name, resolved to 127.0.0.1, with its own name in
 * `Host` and `Origin`, so only the host name tells the two apart.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    name === '[::1]'
  );
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The key in `Authorization: Bearer <key>`, or undefined when the request carries none. */
function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/** Options of an {@link ApiKeyGuard}. */
export interface ApiKeyGuardOptions {
  /** The wrong-key budget per address. */
  limits?: KeyFailureLimits;
  /** Monotonic clock in ms, for tests. */
  now?: () => number;
  /**
   * The client's address: the socket's peer, or behind a trusted proxy the address it forwarded
   * (`trustProxy`), so that the throttle and the loopback rule see clients, not the proxy.
   */
  addressOf?: (req: IncomingMessage) => string | undefined;
}

/** Checks API keys for one server, and throttles the addresses that present wrong ones. */
export class ApiKeyGuard {
  private readonly throttle: KeyFailureThrottle;
  /** The client's address of a request; see {@link ApiKeyGuardOptions.addressOf}. */
  readonly addressOf: (req: IncomingMessage) => string | undefined;

  constructor(
    /** The access rule it enforces. */
    readonly access: ApiAccess,
    private readonly logger: Logger,
    options: ApiKeyGuardOptions = {},
  ) {
    if (access.apiKey !== undefined && access.apiKey.length < MIN_API_KEY_LENGTH) {
      throw new SockwardenError(
        'invalid_config',
        `the API key must be at least ${MIN_API_KEY_LENGTH} characters (got ${access.apiKey.length})`,
        { field: 'apiKey' },
      );
    }
    this.addressOf = options.addressOf ?? ((req) => req.socket.remoteAddress);
    this.throttle = new KeyFailureThrottle(options.limits ?? KEY_FAILURE_LIMITS, options.now);
  }

  /** Throws `unauthorized` (or `auth_throttled`) unless the request may call the API. */
  authorize(req: IncomingMessage): void {
    if (this.access.apiKey === undefined) {
      // Both the socket's peer and the client it forwarded: a trusted proxy on loopback must not
      // make a remote client local, nor a forged header from a remote peer make it local either.
      if (
        this.access.openOnLoopback &&
        isLoopback(req.socket.remoteAddress) &&
        isLoopback(this.addressOf(req))
      ) {
        if (isLoopbackHost(req.headers.host)) return;
        throw new SockwardenError(
          'unauthorized',
          `with no API key, the API answers only requests addressed to this machine by a loopback name (Host ${JSON.stringify(req.headers.host ?? '')} is not one): start the server with --api-key`,
        );
      }
      throw new SockwardenError('unauthorized', 'the API is disabled: start the server with --api-key');
    }
    if (!this.checkKey(bearerOf(req), this.addressOf(req))) {
      throw new SockwardenError('unauthorized', 'missing or wrong API key in Authorization: Bearer');
    }
  }

  /**
   * Whether `given` is the API key. No key at all is simply false: it is not a guess. A wrong key
   * counts against `address`; while the address is throttled, this throws `auth_throttled` before
   * looking at the key, so that a throttled guesser cannot tell a right key from a wrong one.
   */
  checkKey(given: string | undefined, address: string | undefined): boolean {
    const apiKey = this.access.apiKey;
    if (given === undefined || apiKey === undefined) return false;
    const waitMs = this.throttle.retryAfterMs(address);
    if (waitMs > 0) {
      throw new SockwardenError(
        'auth_throttled',
        `too many wrong API keys from this address; retry in ${Math.ceil(waitMs / 1000)} s`,
        { retryAfterMs: waitMs },
      );
    }
    if (timingSafeEqual(digest(given), digest(apiKey))) return true;
    if (this.throttle.recordFailure(address)) {
      // When the address runs out of tries, not on every refusal after: at most one line per refill
      // period and address, so a guesser cannot flood the log.
      this.logger.warn(
        { address: addressKey(address), retryAfterMs: this.throttle.retryAfterMs(address) },
        'too many wrong API keys from one address: throttled',
      );
    }
    return false;
  }
}
