/**
 * One signed POST of the backend bridge, and what its status means. The body carries the user, the
 * session and the client's message, and the signature vouches for it, so the request goes to the
 * configured URL and nowhere else: redirects are never followed (a 3xx is a failed call that is not
 * retried), whatever host a `Location` names.
 */
import type { UpstreamAttempt } from '../core/upstream.js';
import { UpstreamError, upstreamAtFault } from '../governor/governor.js';
import { parseRetryAfter } from '../retry-after.js';
import { BackendRefusalError } from './backend-reply.js';
import { SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from './backend-signature.js';

/** Where the bridge POSTs, and the key it signs with (unsigned without one). */
export interface BackendTarget {
  url: string;
  secret?: string | undefined;
}

/** Statuses worth another attempt: throttling and temporary unavailability. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * POSTs `body` to the backend within `attempt`. Resolves with a 200 or 204 response, whose body the
 * caller reads; throws an UpstreamError for anything else (a {@link BackendRefusalError} for a 4xx
 * the client's request caused), and the attempt's abort reason when it was aborted.
 */
export async function postToBackend(
  target: BackendTarget,
  body: string,
  attempt: UpstreamAttempt,
): Promise<Response> {
  const timestamp = String(Date.now());
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: timestamp,
  };
  if (target.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(target.secret, timestamp, body);
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers,
      body,
      signal: attempt.signal,
      redirect: 'manual',
    });
  } catch (cause) {
    if (attempt.signal.aborted) throw attempt.signal.reason;
    throw new UpstreamError(`the backend could not be reached: ${describe(cause)}`, { cause });
  }
  attempt.progress();
  if (res.status === 200 || res.status === 204) return res;
  await res.body?.cancel();
  throw statusError(res);
}

function statusError(res: Response): UpstreamError {
  const { status } = res;
  if (status >= 300 && status < 400) {
    // Not the Location itself: this message reaches the client, and where the backend points is its business.
    return new UpstreamError(
      `the backend answered HTTP ${status}, a redirect, which the bridge never follows`,
      {
        status,
        retryable: false,
      },
    );
  }
  if (status >= 400 && status < 500 && !upstreamAtFault(status)) return new BackendRefusalError(status);
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
  return new UpstreamError(`the backend answered HTTP ${status}`, {
    status,
    retryable: RETRYABLE.has(status),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
