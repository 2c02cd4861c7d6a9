/**
 * Who may open the dashboard. The rule is the API's (`--api-key`, or loopback in `--insecure` mode
 * with no key), but a browser cannot put a header on a page load or an EventSource, so a viewer
 * signs in once with the key and gets a cookie. The cookie is derived from the key rather than being
 * the key, is scoped to `/dashboard`, and is useless against `/api`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SockwardenError } from '../errors.js';
import { type ApiAccess, authorize } from './api.js';

const COOKIE = 'sockwarden_dashboard';

function cookieValue(apiKey: string): string {
  return createHmac('sha256', apiKey).update('sockwarden dashboard viewer v1').digest('base64url');
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

/** Throws `unauthorized` unless the request carries the dashboard cookie or passes the API's rule. */
export function authorizeDashboard(req: IncomingMessage, access: ApiAccess): void {
  const cookie = cookieOf(req);
  if (access.apiKey !== undefined && cookie !== undefined && sameText(cookie, cookieValue(access.apiKey)))
    return;
  authorize(req, access);
}

/**
 * Checks a key typed into the sign-in form. Returns the `Set-Cookie` value on success; throws
 * `unauthorized` naming what was wrong otherwise.
 */
export function signIn(key: string, access: ApiAccess): string {
  if (access.apiKey === undefined) {
    throw new SockwardenError(
      'unauthorized',
      'the dashboard has no key to sign in with: start the server with --api-key',
    );
  }
  if (!sameText(cookieValue(key), cookieValue(access.apiKey))) {
    throw new SockwardenError('unauthorized', 'wrong API key');
  }
  return `${COOKIE}=${cookieValue(access.apiKey)}; Path=/dashboard; HttpOnly; SameSite=Strict`;
}
