/**
 * `Retry-After` as HTTP sends it: delay-seconds or an HTTP date (RFC 9110, section 10.2.3). Shared by
 * the upstream governor and the Node client, which both honour it.
 */

/** Milliseconds to wait for a `Retry-After` header value, or undefined when absent or unreadable. */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
