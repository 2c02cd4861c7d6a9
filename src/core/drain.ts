/**
 * The drain of a hub, once it refuses new upgrades: every socket closed with 1012 and a retry hint
 * spread over the drain window, sessions held for other nodes to claim when the engine is shared,
 * the rest terminated and ended, the work their ends started (a backend's disconnect events) given
 * the time left, then every resource released and the engine closed.
 */
import { CloseCode, retryAfterReason } from '../protocol.js';
import type { CoreConfig } from './config.js';
import type { Engine } from './engine.js';
import type { Registry } from './registry.js';
import type { Scope } from './scope.js';
import type { TimerWheel } from './timer-wheel.js';

/** What a drain works on. */
export interface DrainParts {
  config: CoreConfig;
  registry: Registry;
  engine: Engine;
  root: Scope;
  wheel: TimerWheel;
  now(): number;
  /** Work to finish before the root scope is disposed; see HubParts. */
  beforeDispose?(): Promise<unknown>;
}

/** See the module comment. */
export class Drain {
  /** While the drain waits: checks whether what it waits for is done. */
  private waiting: (() => void) | null = null;

  constructor(private readonly parts: DrainParts) {}

  /** A connection or session went away: what the drain waits for may be done. */
  check(): void {
    this.waiting?.();
  }

  /** Runs the drain; `drainMs` spreads the reconnect hints and bounds the hold for claims. */
  async run(drainMs: number): Promise<void> {
    const { config, registry, engine, root, wheel } = this.parts;
    const startedAt = this.parts.now();
    for (const connection of [...registry.connections]) {
      connection.end(CloseCode.Restart, retryAfterReason(Math.random() * drainMs));
    }
    await this.until(() => registry.connections.size === 0, config.drainTimeoutMs);
    // With a shared engine, the clients told to come back over `drainMs` resume on other nodes,
    // which claim their sessions from here: held until then, so nothing published meanwhile is lost.
    const holdsForClaims = engine.shared && drainMs > 0;
    if (holdsForClaims) await this.until(() => registry.sessions.size === 0, drainMs);
    for (const connection of [...registry.connections]) connection.terminate();
    for (const session of [...registry.sessions.values()]) session.end('drained');
    // What those ends started finishes with the wheel still turning, within the whole drain's
    // window: the sockets' part and, when sessions were held for claims, that part too.
    const windowMs = config.drainTimeoutMs + (holdsForClaims ? drainMs : 0);
    await this.settleBeforeDispose(startedAt + windowMs - this.parts.now());
    root.dispose();
    wheel.stop();
    await engine.close();
  }

  private async settleBeforeDispose(timeoutMs: number): Promise<void> {
    const work = this.parts.beforeDispose?.();
    if (!work || timeoutMs <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = this.parts.root.timer(timeoutMs, resolve);
      const done = () => {
        timer.dispose();
        resolve();
      };
      work.then(done, done);
    });
  }

  private async until(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return;
    await new Promise<void>((resolve) => {
      const timer = this.parts.root.timer(timeoutMs, resolve);
      this.waiting = () => {
        if (!done()) return;
        timer.dispose();
        resolve();
      };
    });
    this.waiting = null;
  }
}
