/**
 * Who may open the dashboard. The rule is the API's (`--api-key`, or loopback in `--insecure` mode
 * with no key), but a browser cannot put a header on a page load or an EventSource, so a viewer
 * signs in once with the key, by POSTing the form, and gets a cookie. The cookie is not the key: it
 * carries its expiry and an HMAC of that expiry under the key, so it is useless against `/api`,
 * dies with a key change, and is refused by the server once it has expired whatever the browser
 * kept. It is scoped to `/dashboard`, hidden from scripts and never sent by another site.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SockwardenError } from '../errors.js';
import type { ApiKeyGuard } from './api-access.js';

const COOKIE = 'sockwarden_dashboard';

/** How long a dashboard sign-in lasts: a working day, then the key again (seconds). */
export const DASHBOARD_COOKIE_MAX_AGE_S = 8 * 60 * 60;

function signature(apiKey: string, expiresAtS: number): string {
  return createHmac('sha256', apiKey)
    .update(`sockwarden dashboard viewer v2 ${expiresAtS}`)
    .digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return rest.join('=');
  }
  return undefined;
}

/** Whether `value` is a cookie this key signed and that has not expired at `nowMs`. */
function validCookie(value: string, apiKey: string, nowMs: number): boolean {
  const match = /^(\d{1,12})\.([\w-]+)$/.exec(value);
  if (!match) return false;
  const expiresAtS = Number(match[1]);
  return expiresAtS * 1000 > nowMs && sameText(match[2] as string, signature(apiKey, expiresAtS));
}

/**
 * Throws `unauthorized` unless the request carries a valid dashboard cookie or passes the API's
 * rule (`auth_throttled` when its address presented too many wrong keys).
 */
export function authorizeDashboard(
  req: IncomingMessage,
  guard: ApiKeyGuard,
  nowMs: number = Date.now(),
): void {
  const cookie = cookieOf(req);
  const apiKey = guard.access.apiKey;
  if (apiKey !== undefined && cookie !== undefined && validCookie(cookie, apiKey, nowMs)) return;
  guard.authorize(req);
}

/**
 * Checks a key typed into the sign-in form by a client at `address`. Returns the `Set-Cookie` value
 * on success; throws `unauthorized` naming what was wrong otherwise, or `auth_throttled`.
 */
export function signIn(
  key: string,
  address: string | undefined,
  guard: ApiKeyGuard,
  nowMs: number = Date.now(),
  /** Whether the browser reached the server over TLS: the cookie then never travels in clear. */
  secure = false,
): string {
  const apiKey = guard.access.apiKey;
  if (apiKey === undefined) {
    throw new SockwardenError(
      'unauthorized',
      'the dashboard has no key to sign in with: start the server with --api-key',
    );
  }
  if (!guard.checkKey(key === '' ? undefined : key, address)) {
    throw new SockwardenError('unauthorized', 'wrong API key');
  }
  const expiresAtS = Math.floor(nowMs / 1000) + DASHBOARD_COOKIE_MAX_AGE_S;
  return `${COOKIE}=${expiresAtS}.${signature(apiKey, expiresAtS)}; Max-Age=${DASHBOARD_COOKIE_MAX_AGE_S}; Path=/dashboard; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
