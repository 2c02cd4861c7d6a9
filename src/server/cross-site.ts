/**
 * Requests a page on another site makes through a visitor's browser. With `--insecure` and no key
 * the API is open to loopback, and a developer's browser is on loopback: any page it visits could
 * POST to the API. Browsers mark such requests (`Origin`, `Sec-Fetch-Site`), and can send only a
 * form or `text/plain` body across sites without asking the server first (a CORS preflight, which
 * this server never grants), so the API refuses cross-site requests and bodies other than JSON.
 */
import type { IncomingMessage } from 'node:http';
import { SockwardenError } from '../errors.js';

/** The origin a browser sends for a page served by this host, normalised (`http://host:port`). */
function ownHost(req: IncomingMessage, scheme: string): string | undefined {
  const host = req.headers.host;
  if (host === undefined) return undefined;
  try {
    return new URL(`${scheme}//${host}`).host;
  } catch {
    return undefined;
  }
}

/** Whether `origin` (an `Origin` header) names the host the request was sent to. */
function isOwnOrigin(req: IncomingMessage, origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    // `Origin: null` (a sandboxed frame, a file, a redirect across sites) is someone else.
    return false;
  }
  // Either scheme: behind a proxy that terminates TLS, the browser says https and the gateway sees http.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return url.host === ownHost(req, url.protocol);
}

/**
 * Throws `cross_site_request` when a browser sent the request from another site: `Sec-Fetch-Site:
 * cross-site`, or an `Origin` other than this host. Requests without either (curl, scripts, SDKs)
 * are not from a browser page and pass.
 */
export function refuseCrossSite(req: IncomingMessage): void {
  if (req.headers['sec-fetch-site'] === 'cross-site') {
    throw new SockwardenError(
      'cross_site_request',
      'cross-site requests are refused (Sec-Fetch-Site: cross-site)',
      {
        field: 'sec-fetch-site',
      },
    );
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(req, origin)) {
    throw new SockwardenError(
      'cross_site_request',
      `cross-site requests are refused: Origin ${JSON.stringify(origin)} is not this server's own`,
      { field: 'origin' },
    );
  }
}

/** Whether the request carries a body (a length above 0, or a chunked one). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  return Number(req.headers['content-length'] ?? 0) > 0;
}

/** Throws `bad_content_type` unless the request says its body is JSON. */
export function requireJsonBody(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new SockwardenError(
      'bad_content_type',
      `the request body must be sent with Content-Type: application/json (got ${JSON.stringify(req.headers['content-type'] ?? 'none')})`,
      { field: 'content-type' },
    );
  }
}
