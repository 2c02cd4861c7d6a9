/**
 * The port through which sessions make upstream calls. The core only knows this shape; the governor
 * (src/governor) implements it with its gates, rate, retries and breaker.
 */
import type { Scope } from './scope.js';

/** What one attempt of an upstream call gets. */
export interface UpstreamAttempt {
  /** Aborted when the owner ends, the attempt times out, or the call is over. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Sign of life (headers, a chunk): restarts the attempt's silence timeout. */
  progress(): void;
  /** Output reached the client: a later failure is not retried, so nothing is delivered twice. */
  commit(): void;
}

/** One upstream call: it may run several times, once per attempt. */
export type UpstreamCall<T> = (attempt: UpstreamAttempt) => Promise<T>;

/** Runs an upstream call owned by `owner`, against the named upstream. */
export type UpstreamRunner = <T>(call: UpstreamCall<T>, owner: Scope, upstream?: string) => Promise<T>;
