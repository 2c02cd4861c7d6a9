/**
 * The deadlines of a connection other than its heartbeat: idle timeout, maximum lifetime and token
 * expiry. Each sends a `warning` frame `warningBeforeCloseMs` ahead, then closes with its code. All
 * run on the connection's scope, so they end with it.
 */
import { CloseCode, retryAfterReason, warningFrame } from '../protocol.js';
import type { CoreConfig } from './config.js';
import type { Scope } from './scope.js';

/** What a deadline acts on: the connection, seen narrowly. */
export interface DeadlineTarget {
  readonly open: boolean;
  /** When the last application message went either way. */
  readonly quietSince: number;
  send(frame: string, activity?: boolean): unknown;
  end(code: number, reason?: string): void;
}

type Timing = Pick<CoreConfig, 'idleTimeoutMs' | 'warningBeforeCloseMs'>;

/** Closes with 4102 after `idleTimeoutMs` without messages, warning first; activity postpones it. */
export class IdleWatch {
  private warnedAt = 0;

  constructor(
    private readonly target: DeadlineTarget,
    private readonly scope: Scope,
    private readonly timing: Timing,
    private readonly clock: { now(): number },
  ) {
    // The watch itself is the wheel task (its run()), so it costs no closure per connection.
    this.scope.timer(this.warnAfter(), this);
  }

  private warnAfter(): number {
    const { idleTimeoutMs, warningBeforeCloseMs } = this.timing;
    return idleTimeoutMs - Math.min(warningBeforeCloseMs, idleTimeoutMs / 2);
  }

  /** Called by the wheel when a check is due. */
  run(): void {
    if (!this.target.open) return;
    const quietSince = this.target.quietSince;
    if (this.warnedAt > 0 && quietSince < this.warnedAt) {
      this.target.end(CloseCode.IdleTimeout, 'idle');
      return;
    }
    this.warnedAt = 0;
    const now = this.clock.now();
    const quietFor = now - quietSince;
    const warnAfter = this.warnAfter();
    if (quietFor < warnAfter) {
      this.scope.timer(warnAfter - quietFor, this);
      return;
    }
    this.warnedAt = now;
    const closeInMs = Math.max(0, this.timing.idleTimeoutMs - quietFor);
    this.target.send(warningFrame('idle', closeInMs), false);
    this.scope.timer(closeInMs, this);
  }
}

/** Closes with 4002 and a jittered `retry_after_ms` after `lifetimeMs`, warning first. */
export function scheduleLifetime(
  target: DeadlineTarget,
  scope: Scope,
  warningBeforeCloseMs: number,
  lifetimeMs: number,
): void {
  const lead = Math.min(warningBeforeCloseMs, lifetimeMs / 2);
  scope.timer(lifetimeMs - lead, () => target.send(warningFrame('lifetime', lead), false));
  scope.timer(lifetimeMs, () => {
    // Spread the reconnects of connections that were opened together.
    const jitter = Math.round(Math.random() * Math.min(lifetimeMs, 30_000) * 0.1);
    target.end(CloseCode.MaxLifetime, retryAfterReason(jitter));
  });
}

/** Closes with 4003 when the credentials expire, warning first. */
export function scheduleTokenExpiry(
  target: DeadlineTarget,
  scope: Scope,
  warningBeforeCloseMs: number,
  remainingMs: number,
): void {
  const lead = Math.min(warningBeforeCloseMs, Math.max(0, remainingMs / 2));
  if (remainingMs - lead > 0) {
    scope.timer(remainingMs - lead, () => target.send(warningFrame('token_expiring', lead), false));
  }
  scope.timer(Math.max(0, remainingMs), () => target.end(CloseCode.TokenExpired, 'token expired'));
}
