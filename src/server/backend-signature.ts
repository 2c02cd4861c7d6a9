/**
 * How the gateway signs what it POSTs to a backend, so the backend can check it came from the
 * gateway: `x-sockwarden-signature: sha256=<hex>` is HMAC-SHA256 with the shared secret over
 * `<x-sockwarden-timestamp>.<body>`. The timestamp (ms since the epoch) lets a backend refuse replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'x-sockwarden-signature';
/** Header carrying the signing time. */
export const TIMESTAMP_HEADER = 'x-sockwarden-timestamp';

/** The signature of `body` at `timestamp`. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Checks a request as a backend should: the signature matches and the timestamp is within
 * `toleranceMs` of now. For backends in Node; docs/backend.md shows the same check in Python.
 */
export function verifyBody(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  toleranceMs = 5 * 60_000,
  now = Date.now(),
): boolean {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,16}$/.test(timestamp)) return false;
  if (Math.abs(now - Number(timestamp)) > toleranceMs) return false;
  const expected = Buffer.from(signBody(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
