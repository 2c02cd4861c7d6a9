/**
 * `/metrics` rendered at most once per interval. A render walks every metric and costs several
 * milliseconds of CPU and a fresh string of about 13 KB; on an open port, computing it per request
 * let a handful of pipelining sockets stall the event loop and fill the heap. Scrapers poll every
 * few seconds at most, so text up to a second old loses them nothing.
 *
 * With `--workers`, the primary keeps the one cache of the machine's text and each worker keeps a
 * copy that expires no later than the primary's (see {@link cachedAgedRender}): otherwise a worker
 * could serve text older than what another worker served a moment before, and the machine's
 * counters would seem to go backwards between two scrapes.
 */

/** How long a rendered text is served again (ms). */
export const METRICS_CACHE_MS = 1_000;

/** A text and how old it already was when it arrived (ms): rendered elsewhere, or here (0). */
export interface AgedText {
  text: string;
  ageMs: number;
}

/**
 * Wraps `render` so that concurrent callers share one render and later callers reuse its text
 * until `maxAgeMs` after it was rendered; each answer says how old its text is. A render that
 * resolves a plain string was rendered when it finished; one that resolves an {@link AgedText}
 * (a copy of another process's cache) counts as rendered `ageMs` before the render started, so
 * the copy never outlives the original. A failed render is not kept: the next caller tries again.
 */
export function cachedAgedRender(
  render: () => Promise<string | AgedText>,
  maxAgeMs: number = METRICS_CACHE_MS,
  now: () => number = () => performance.now(),
): () => Promise<AgedText> {
  let pending: Promise<AgedText> | undefined;
  let text: string | undefined;
  let renderedAt = 0;
  return () => {
    if (text !== undefined && now() - renderedAt < maxAgeMs)
      return Promise.resolve({ text, ageMs: now() - renderedAt });
    const startedAt = now();
    pending ??= render().then(
      (fresh) => {
        pending = undefined;
        if (typeof fresh === 'string') {
          text = fresh;
          renderedAt = now();
        } else {
          text = fresh.text;
          renderedAt = startedAt - fresh.ageMs;
        }
        return { text, ageMs: now() - renderedAt };
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
}

/** {@link cachedAgedRender} for a caller that wants the text only: what `/metrics` serves. */
export function cachedRender(
  render: () => Promise<string>,
  maxAgeMs: number = METRICS_CACHE_MS,
  now: () => number = () => performance.now(),
): () => Promise<string> {
  const aged = cachedAgedRender(render, maxAgeMs, now);
  return () => aged().then((answer) => answer.text);
}
