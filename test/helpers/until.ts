/**
 * The one way tests wait in real time for a condition that nothing announces: gateway stats, Redis
 * keys, another process's API, a page's state. What does announce itself (a frame, an SSE event, a
 * close, an exit) is awaited directly instead, as `TestClient.next` does.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** A condition to poll; it may be asynchronous (a fetch, a Redis call, a page evaluation). */
export type Check = () => boolean | Promise<boolean>;

/** How long and how often {@link until} polls, and how its failure names what it waited for. */
export interface UntilOptions {
  /** Give up once this many ms have passed (default 5,000). Zero or less still checks once. */
  timeoutMs?: number;
  /** Pause between two checks, in ms (default 10). */
  intervalMs?: number;
  /**
   * What the test waits for, as the failure message names it. A function is called only on failure,
   * so it can report the last state the checks saw.
   */
  what?: string | (() => string);
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_INTERVAL_MS = 10;

/**
 * Resolves once `check` returns true, checking at once and then every `intervalMs`. Rejects with
 * "timed out after N ms waiting for WHAT" once a check made after the deadline still fails; an error
 * thrown by `check` rejects at once. Also callable as `until(check, timeoutMs, what)`.
 */
export function until(check: Check, options?: UntilOptions): Promise<void>;
export function until(check: Check, timeoutMs?: number, what?: string): Promise<void>;
export async function until(check: Check, options: UntilOptions | number = {}, what?: string): Promise<void> {
  const resolved = typeof options === 'number' ? { timeoutMs: options, what } : options;
  const timeoutMs = resolved.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = resolved.intervalMs ?? DEFAULT_INTERVAL_MS;
  // A monotonic clock: a test that mocks Date (vi.setSystemTime) must not freeze the deadline.
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) {
      const named = typeof resolved.what === 'function' ? resolved.what() : (resolved.what ?? 'condition');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${named}`);
    }
    await sleep(intervalMs);
  }
}
