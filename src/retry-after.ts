/**
 * `Retry-After` as HTTP sends it: delay-seconds or an HTTP date (RFC 9110, section 10.2.3). Shared by
 * the upstream governor and the Node client, which both honour it. What an upstream asks for is
 * also clamped before it is passed on to a client as a hint: an upstream's "in three years" (or a
 * 400-digit number of seconds) must not become a client's wait.
 */

/**
 * The longest wait a hint given to a client may name: 60 s. An upstream asking for longer is
 * answered at once (the governor gives up when the wait passes its retry budget), and the client is
 * told to come back in 60 s, when the upstream's answer may have changed.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

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

/** `ms` as a hint for a client: a whole number of milliseconds from 0 to {@link MAX_RETRY_AFTER_MS}. */
export function clampRetryAfter(ms: number): number {
  if (Number.isNaN(ms)) return MAX_RETRY_AFTER_MS;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}
