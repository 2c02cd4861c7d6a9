/**
 * Bounds how many log lines of one kind the gateway writes per second. A flood of refusals (a
 * reconnect storm, an attacker's loop) costs a log line each, and with a slow log reader those
 * lines pile up in memory. Metrics still count every event; the log keeps the first lines of each
 * kind in every second and says, on the next line it writes, how many it left out.
 */

/** Lines of one kind in the current second. */
interface Window {
  startedAt: number;
  logged: number;
  /** Left out since the last line of this kind that was written. */
  suppressed: number;
}

/** See the module comment. */
export class LogSampler {
  private readonly windows = new Map<string, Window>();

  constructor(
    /** Lines of one kind written per second at most. */
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to write a line of `kind` now: null to leave it out, or how many lines of this kind
   * were left out since the last one written (to put on this line). Kinds must be a bounded set
   * (error codes, names of places in the code), never ids.
   */
  take(kind: string): number | null {
    const now = this.now();
    let window = this.windows.get(kind);
    if (!window) {
      window = { startedAt: now, logged: 0, suppressed: 0 };
      this.windows.set(kind, window);
    } else if (now - window.startedAt >= 1_000) {
      window.startedAt = now;
      window.logged = 0;
    }
    if (window.logged >= this.perSecond) {
      window.suppressed++;
      return null;
    }
    window.logged++;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    return suppressed;
  }
}
