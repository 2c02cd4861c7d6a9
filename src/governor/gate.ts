/**
 * A concurrency gate with a bounded wait queue (invariant I6). Unlike a bulkhead that only notices a
 * cancelled caller when its turn comes, a waiter whose signal aborts leaves the queue at once, so a
 * session that ends frees its queue places in the same event-loop turn.
 */

/** Why a caller did not get a slot. */
export type GateRefusal = 'full' | 'aborted';

/** Limits of a gate. */
export interface GateLimits {
  /** Callers inside at once. */
  concurrency: number;
  /** Callers waiting at most; beyond it `acquire` refuses with `full`. */
  queue: number;
}

interface Waiter {
  grant: () => void;
  refuse: (why: GateRefusal) => void;
}

/** See the module comment. */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: GateLimits) {}

  /** Callers inside. */
  get inside(): number {
    return this.active;
  }

  /** Whether a new caller would have to wait. */
  get full(): boolean {
    return this.active >= this.limits.concurrency;
  }

  /** Callers waiting. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves with a release function once the caller is inside, or rejects with a {@link GateRefusal}.
   * The release function is idempotent.
   */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject<() => void>('aborted' satisfies GateRefusal);
    if (this.active < this.limits.concurrency) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.limits.queue)
      return Promise.reject<() => void>('full' satisfies GateRefusal);
    return new Promise<() => void>((resolve, reject) => {
      const leave = () => {
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        leave();
        reject('aborted' satisfies GateRefusal);
      };
      const waiter: Waiter = {
        grant: () => {
          leave();
          this.active++;
          resolve(this.releaser());
        },
        refuse: (why) => {
          leave();
          reject(why);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting[0]?.grant();
    };
  }
}

/**
 * A class of calls with a gate of their own (a bulkhead), entered after the owner's gate: the
 * backend bridge's lifecycle events, for example, so that many sessions ending at once neither
 * crowd out messages nor are refused by a queue sized for them.
 */
export class CallLane {
  /** The lane's gate. */
  readonly gate: ConcurrencyGate;

  constructor(
    /** Names the lane in `busy` messages. */
    readonly name: string,
    limits: GateLimits,
  ) {
    this.gate = new ConcurrencyGate(limits);
  }
}
