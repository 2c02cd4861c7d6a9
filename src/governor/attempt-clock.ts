/**
 * The clocks of a governed call. The retry budget bounds the whole call (waits, backoff, every
 * attempt and a reply that streams); the silence timeout bounds each stretch without a sign of life
 * from the upstream. Neither runs while an attempt waits on its downstream (the client reading what
 * the upstream already sent): that wait is the client's, and the client's own deadlines (heartbeat,
 * `maxBufferedBytes`) bound it, so a client that stops reading neither cuts the stream nor has it
 * counted against the upstream.
 */
import type { Owned, Scope } from '../core/scope.js';
import type { UpstreamAttempt } from '../core/upstream.js';
import { UpstreamError } from './upstream-error.js';

/**
 * What the governor gives each attempt: the port's {@link UpstreamAttempt}, and a way to wait on the
 * downstream (a client taking what the upstream sent) without the wait counting against the upstream.
 */
export interface GovernedAttempt extends UpstreamAttempt {
  /**
   * Awaits `wait` with the attempt's silence timeout and the call's budget stopped; the silence
   * timeout starts over once it settles. For backpressure: a slow reader is not a silent upstream.
   */
  awaitDownstream<T>(wait: Promise<T>): Promise<T>;
}

/** The limits an attempt's timers enforce. */
export interface AttemptLimits {
  /** Silence that aborts an attempt; `progress()` restarts it. */
  attemptTimeoutMs: number;
  /** Upstream time a whole call may take. */
  retryBudgetMs: number;
}

/** How much of its budget a call has used: the time since it started, less its downstream waits. */
export class CallClock {
  private readonly startedAt: number;
  private downstreamMs = 0;

  constructor(readonly now: () => number) {
    this.startedAt = now();
  }

  /** Budget used so far, in ms. */
  elapsed(): number {
    return this.now() - this.startedAt - this.downstreamMs;
  }

  /** Takes a downstream wait out of the budget used. */
  waitedDownstream(ms: number): void {
    this.downstreamMs += ms;
  }
}

/**
 * The two timers of one attempt, both on the owner's scope (so they die with it, I2) and on the
 * shared wheel (I5). `abort` is called at most once with the reason; `stop()` ends them for good.
 */
export class AttemptTimers {
  private silence: Owned | null = null;
  private deadline: Owned | null = null;
  /** Downstream waits in progress; the timers run only while there are none. */
  private holds = 0;
  private heldSince = 0;
  private stopped = false;

  constructor(
    private readonly owner: Scope,
    private readonly limits: AttemptLimits,
    private readonly call: CallClock,
    private readonly abort: (reason: UpstreamError) => void,
  ) {
    this.arm();
  }

  /** A sign of life from the upstream: the silence timeout starts over (unless it is on hold). */
  progress(): void {
    if (this.stopped || this.holds > 0) return;
    this.silence?.dispose();
    this.silence = this.owner.timer(this.limits.attemptTimeoutMs, () =>
      this.abort(silenceError(this.limits)),
    );
  }

  /** Awaits `wait` with both timers stopped; the budget does not count the time it took. */
  async downstream<T>(wait: Promise<T>): Promise<T> {
    if (this.stopped) return wait;
    if (this.holds++ === 0) {
      this.heldSince = this.call.now();
      this.disarm();
    }
    try {
      return await wait;
    } finally {
      if (--this.holds === 0) {
        this.call.waitedDownstream(this.call.now() - this.heldSince);
        // A fresh silence timeout: the upstream was held back by us, not silent on its own.
        if (!this.stopped) this.arm();
      }
    }
  }

  /** The attempt is over: no timer of it may fire any more. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  private arm(): void {
    this.progress();
    const left = Math.max(0, this.limits.retryBudgetMs - this.call.elapsed());
    this.deadline = this.owner.timer(left, () => this.abort(budgetError(this.limits)));
  }

  private disarm(): void {
    this.silence?.dispose();
    this.silence = null;
    this.deadline?.dispose();
    this.deadline = null;
  }
}

/** Silence is the upstream's failure: retried, and counted by the breaker. */
function silenceError(limits: AttemptLimits): UpstreamError {
  return new UpstreamError(`no answer for ${limits.attemptTimeoutMs} ms`, { retryable: true });
}

/**
 * A call that outlived its budget is over, but not a sign of a broken upstream: a long answer (a
 * client's request for a long stream) must not open the circuit for everyone.
 */
function budgetError(limits: AttemptLimits): UpstreamError {
  return new UpstreamError(`the call ran past its retry budget (${limits.retryBudgetMs} ms)`, {
    retryable: false,
    countsAgainstUpstream: false,
  });
}

/** Waits `ms` on the owner's timer; rejects at once when the owner ends. */
export function sleepOwned(owner: Scope, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (owner.disposed) {
      reject(new Error('owner ended'));
      return;
    }
    // The timer is the owner's: disposing the scope disposes it and the abort rejects the wait.
    const timer = owner.timer(ms, () => {
      owner.signal.removeEventListener('abort', onAbort);
      resolve();
    });
    const onAbort = () => {
      timer.dispose();
      reject(new Error('owner ended'));
    };
    owner.signal.addEventListener('abort', onAbort, { once: true });
  });
}
