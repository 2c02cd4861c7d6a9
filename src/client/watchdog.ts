/**
 * Dead-server detection for one connection: after `heartbeatMs` with nothing received it asks for a
 * ping; if nothing at all arrives within `pongTimeoutMs` after that, the server is declared dead. One
 * timer at a time, re-armed lazily from the last receive time, so a busy connection costs nothing.
 */

/** What the watchdog does when it fires. */
export interface WatchdogActions {
  ping(): void;
  dead(): void;
}

/** See the module comment. */
export class Watchdog {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastReceivedAt = 0;
  private pingSentAt = 0;

  constructor(
    private readonly heartbeatMs: number,
    private readonly pongTimeoutMs: number,
    private readonly actions: WatchdogActions,
  ) {
    this.lastReceivedAt = Date.now();
    this.arm(heartbeatMs);
  }

  /** A frame arrived: the server is alive. */
  received(): void {
    this.lastReceivedAt = Date.now();
  }

  /** Clears the timer; the watchdog does nothing afterwards. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = null;
    const now = Date.now();
    if (this.pingSentAt > 0 && this.lastReceivedAt < this.pingSentAt) {
      this.actions.dead();
      return;
    }
    const silentFor = now - this.lastReceivedAt;
    if (silentFor < this.heartbeatMs) {
      this.pingSentAt = 0;
      this.arm(this.heartbeatMs - silentFor);
      return;
    }
    this.pingSentAt = now;
    this.arm(this.pongTimeoutMs);
    this.actions.ping();
  }
}
