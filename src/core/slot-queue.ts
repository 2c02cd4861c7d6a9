/**
 * The per-user admission queue (policy `queue`, invariant I6): upgrades wait here, bounded in number
 * by `maxQueuedUpgrades` in all and `maxQueuedUpgradesPerUser` for each user (so one user's
 * reconnect loop cannot fill the queue for everyone), and in time by `queueTimeoutMs`, for a slot
 * of their user to free. Each waiter's timer is owned by the admission scope; an upgrade whose
 * socket goes away leaves at once.
 */
import type { Scope } from './scope.js';

/** Why a wait ended. */
export type QueueOutcome = 'slot' | 'timeout' | 'full' | 'user_full' | 'aborted';

/** See the module comment. */
export class SlotQueue {
  private readonly waiting = new Map<string, Array<(outcome: QueueOutcome) => void>>();
  private count = 0;

  constructor(
    private readonly scope: Scope,
    private readonly maxQueued: number,
    private readonly maxQueuedPerUser: number,
  ) {}

  /** Upgrades waiting now. */
  get size(): number {
    return this.count;
  }

  /** Waits up to `remainingMs` for `slotFreed(user)`; the waiter then retries admission. */
  wait(user: string, remainingMs: number, signal: AbortSignal): Promise<QueueOutcome> {
    // A client that left while its upgrade was being probed must not take a place, nor the wake of
    // the next freed slot: its abort event has fired already and would never come again.
    if (signal.aborted) return Promise.resolve('aborted');
    if (remainingMs <= 0) return Promise.resolve('timeout');
    if (this.count >= this.maxQueued) return Promise.resolve('full');
    if ((this.waiting.get(user)?.length ?? 0) >= this.maxQueuedPerUser) return Promise.resolve('user_full');
    return new Promise((resolve) => {
      let list = this.waiting.get(user);
      if (!list) {
        list = [];
        this.waiting.set(user, list);
      }
      const waiters = list;
      this.count++;
      const wake = (outcome: QueueOutcome) => {
        const index = waiters.indexOf(wake);
        if (index < 0) return;
        waiters.splice(index, 1);
        if (waiters.length === 0 && this.waiting.get(user) === waiters) this.waiting.delete(user);
        this.count--;
        timer.dispose();
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const onAbort = () => wake('aborted');
      const timer = this.scope.timer(remainingMs, () => wake('timeout'));
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.push(wake);
    });
  }

  /** A slot of `user` was released: wake the longest waiter of that user. */
  slotFreed(user: string): void {
    this.waiting.get(user)?.[0]?.('slot');
  }

  /** Ends every wait, for drain. */
  abortAll(): void {
    for (const waiters of [...this.waiting.values()]) for (const wake of [...waiters]) wake('aborted');
  }
}
