/**
 * `/metrics` rendered at most once per interval. A render walks every metric and costs several
 * milliseconds of CPU and a fresh string of about 13 KB; on an open port, computing it per request
 * let a handful of pipelining sockets stall the event loop and fill the heap. Scrapers poll every
 * few seconds at most, so text up to a second old loses them nothing.
 */

/** How long a rendered text is served again (ms). */
export const METRICS_CACHE_MS = 1_000;

/**
 * Wraps `render` so that concurrent callers share one render and later callers reuse its text for
 * `maxAgeMs` after it finished. A failed render is not kept: the next caller tries again.
 */
export function cachedRender(
  render: () => Promise<string>,
  maxAgeMs: number = METRICS_CACHE_MS,
  now: () => number = () => performance.now(),
): () => Promise<string> {
  let pending: Promise<string> | undefined;
  let text: string | undefined;
  let renderedAt = 0;
  return () => {
    if (text !== undefined && now() - renderedAt < maxAgeMs) return Promise.resolve(text);
    pending ??= render().then(
      (fresh) => {
        text = fresh;
        renderedAt = now();
        pending = undefined;
        return fresh;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
}
