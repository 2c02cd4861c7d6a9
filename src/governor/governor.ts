/**
 * The upstream governor (invariant I7): every call to an upstream goes through a global and a
 * per-owner concurrency gate (and the gate of its lane, if it has one), a token bucket, a circuit
 * breaker and a bounded retry loop, and belongs to its owner's Scope. When the owner ends, the
 * in-flight attempt is aborted, queued calls leave their queue and a pending backoff timer is
 * disposed, all in the turn the scope is disposed. The retry budget bounds the whole call, a
 * streamed reply included; waits on the downstream (see {@link GovernedAttempt}) are not counted.
 */
import type { Scope } from '../core/scope.js';
import { TokenBucket } from '../core/token-bucket.js';
import { SockwardenError } from '../errors.js';
import { clampRetryAfter } from '../retry-after.js';
import { AttemptTimers, CallClock, type GovernedAttempt, sleepOwned } from './attempt-clock.js';
import { CircuitOpenError, UpstreamBreaker } from './breaker.js';
import type { GovernorConfig } from './config.js';
import type { GovernorObserver, UpstreamStats } from './figures.js';
import { type CallLane, ConcurrencyGate, type GateRefusal } from './gate.js';
import { retryDelay } from './retry-delay.js';
import { countsAgainstUpstream, UpstreamError } from './upstream-error.js';

export type { GovernedAttempt } from './attempt-clock.js';
export type { GovernorConfig } from './config.js';
export type { GovernorObserver, UpstreamStats } from './figures.js';
export { CallLane } from './gate.js';
export { UpstreamError, upstreamAtFault } from './upstream-error.js';

/** Where a call belongs. */
export interface RunOptions {
  /** The owner: a session or connection scope. Its end cancels the call. */
  owner: Scope;
  /** Which upstream: each has its own token bucket, breaker and figures. Default `default`. */
  upstream?: string;
  /** A lane whose gate the call also enters (after the owner's); refused with `busy` when it is full. */
  lane?: CallLane;
}

interface Upstream {
  name: string;
  bucket: TokenBucket;
  breaker: UpstreamBreaker;
  stats: Omit<UpstreamStats, 'circuit' | 'successRate' | 'queued'>;
  /** Calls of this upstream waiting: for a gate slot or a rate token. */
  waiting: number;
}

/** Thrown inside an attempt whose owner ended: not the upstream's fault, so the breaker ignores it. */
class OwnerEnded extends Error {}
const CANCELLED = new OwnerEnded('the owner ended');

/**
 * How a failed attempt leaves the breaker: what failed, the backoff before the next attempt (null
 * when there is none), and whether the breaker counts it against the upstream.
 */
class AttemptFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly delay: number | null,
    readonly counts: boolean,
  ) {
    super('the attempt failed');
  }
}

type AttemptResult<T> = { ok: true; value: T } | { ok: false; error: unknown; delay: number | null };

/** See the module comment. */
export class Governor {
  private readonly global: ConcurrencyGate;
  private readonly perOwner = new WeakMap<Scope, ConcurrencyGate>();
  private readonly upstreams = new Map<string, Upstream>();

  constructor(
    readonly config: GovernorConfig,
    private readonly now: () => number,
    private readonly observer?: GovernorObserver,
  ) {
    this.global = new ConcurrencyGate({ concurrency: config.maxConcurrent, queue: config.maxQueued });
  }

  /**
   * Runs `fn` under every policy. Resolves with its value; rejects with a SockwardenError coded
   * `busy` (a queue is full), `backend_unavailable` (circuit open, failures, budget spent),
   * `rate_limited` (throttled past the budget) or `upstream_cancelled` (the owner ended).
   */
  async run<T>(fn: (ctx: GovernedAttempt) => Promise<T>, options: RunOptions): Promise<T> {
    const upstream = this.upstream(options.upstream ?? 'default');
    const { owner, lane } = options;
    upstream.stats.requests++;
    const call = new CallClock(this.now);
    if (owner.disposed) throw this.cancelled(upstream);
    const open = upstream.breaker.msUntilHalfOpen();
    if (open > 0)
      throw this.rejected(upstream, 'backend_unavailable', `upstream ${upstream.name}: circuit open`, open);
    let gate = this.perOwner.get(owner);
    if (!gate) {
      gate = new ConcurrencyGate({
        concurrency: this.config.perSessionConcurrent,
        queue: this.config.perSessionQueued,
      });
      this.perOwner.set(owner, gate);
    }
    const leave = await this.enter(gate, owner, upstream, 'this session');
    let leaveLane: (() => void) | undefined;
    try {
      if (lane) leaveLane = await this.enter(lane.gate, owner, upstream, lane.name);
      return await this.attempts(fn, upstream, owner, call);
    } finally {
      leaveLane?.();
      leave();
    }
  }

  /** The retry loop of one call: attempt, and back off while the failure is worth another attempt. */
  private async attempts<T>(
    fn: (ctx: GovernedAttempt) => Promise<T>,
    upstream: Upstream,
    owner: Scope,
    call: CallClock,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.pace(upstream, owner, call);
      const release = await this.enter(this.global, owner, upstream, 'the gateway');
      const result = await this.attempt(fn, upstream, owner, attempt, call).finally(release);
      if (result.ok) {
        upstream.stats.successes++;
        this.observer?.outcome(upstream.name, 'success');
        return result.value;
      }
      if (result.error === CANCELLED || owner.disposed) throw this.cancelled(upstream);
      if (result.delay === null) throw this.failed(upstream, result.error);
      upstream.stats.retries++;
      this.observer?.retry(upstream.name);
      await sleepOwned(owner, result.delay).catch(() => {
        throw this.cancelled(upstream);
      });
    }
  }

  /** Figures of every upstream seen so far. */
  stats(): Record<string, UpstreamStats> {
    const out: Record<string, UpstreamStats> = {};
    for (const u of this.upstreams.values()) {
      const done = u.stats.successes + u.stats.failures;
      out[u.name] = {
        ...u.stats,
        circuit: u.breaker.state,
        queued: u.waiting,
        successRate: done === 0 ? 1 : u.stats.successes / done,
      };
    }
    return out;
  }

  private upstream(name: string): Upstream {
    let upstream = this.upstreams.get(name);
    if (!upstream) {
      // Only what the upstream is to blame for counts: not an owner that ended, not a caller's refused
      // request, not a throttle the retries absorb (see countsAgainstUpstream).
      const breaker = new UpstreamBreaker(
        this.config.breaker,
        (error) => error instanceof AttemptFailure && error.counts,
      );
      const created: Upstream = {
        name,
        bucket: new TokenBucket(this.config.rate, this.now()),
        breaker,
        stats: {
          requests: 0,
          successes: 0,
          failures: 0,
          throttled: 0,
          retries: 0,
          rejected: 0,
          cancelled: 0,
          inFlight: 0,
        },
        waiting: 0,
      };
      breaker.onStateChange((state) => this.observer?.circuit(name, state));
      this.upstreams.set(name, created);
      upstream = created;
    }
    return upstream;
  }

  private async enter(
    gate: ConcurrencyGate,
    owner: Scope,
    upstream: Upstream,
    whose: string,
  ): Promise<() => void> {
    const waits = gate.full;
    if (waits) upstream.waiting++;
    try {
      return await gate.acquire(owner.signal);
    } catch (why) {
      if ((why as GateRefusal) === 'aborted') throw this.cancelled(upstream);
      throw this.rejected(upstream, 'busy', `too many upstream calls waiting in ${whose}`, 1_000);
    } finally {
      if (waits) upstream.waiting--;
    }
  }

  /** Waits for a token of the upstream's bucket, on the owner's timer; fails when it would pass the budget. */
  private async pace(upstream: Upstream, owner: Scope, call: CallClock): Promise<void> {
    for (;;) {
      const now = this.now();
      if (upstream.bucket.take(now)) return;
      const wait = upstream.bucket.msUntilToken(now);
      if (call.elapsed() + wait > this.config.retryBudgetMs) {
        throw this.rejected(upstream, 'rate_limited', `upstream ${upstream.name}: rate limit reached`, wait);
      }
      upstream.waiting++;
      try {
        await sleepOwned(owner, wait);
      } catch {
        throw this.cancelled(upstream);
      } finally {
        upstream.waiting--;
      }
    }
  }

  private async attempt<T>(
    fn: (ctx: GovernedAttempt) => Promise<T>,
    upstream: Upstream,
    owner: Scope,
    attempt: number,
    call: CallClock,
  ): Promise<AttemptResult<T>> {
    const controller = owner.abortController();
    const inFlight = owner.own('upstream', () => controller.abort(new Error('owner ended')));
    let committed = false;
    const timers = new AttemptTimers(owner, this.config, call, (reason) => controller.abort(reason));
    const ctx: GovernedAttempt = {
      signal: controller.signal,
      attempt,
      progress: () => timers.progress(),
      commit: () => {
        committed = true;
      },
      awaitDownstream: (wait) => timers.downstream(wait),
    };
    upstream.stats.inFlight++;
    try {
      const value = await upstream.breaker.execute(async () => {
        try {
          return await fn(ctx);
        } catch (error) {
          // An owner that ended is not the upstream's fault: keep it out of the breaker's count.
          if (owner.disposed) throw CANCELLED;
          // A timer's abort says what happened better than whatever the aborted work threw.
          const reason: unknown = controller.signal.reason;
          const failure = controller.signal.aborted && reason instanceof UpstreamError ? reason : error;
          // Decided here, before the breaker sees it, because whether a throttle counts depends on it.
          const delay = this.nextDelay(failure, attempt, committed, call);
          throw new AttemptFailure(failure, delay, countsAgainstUpstream(failure, delay !== null));
        }
      });
      return { ok: true, value };
    } catch (error) {
      const failure = error instanceof AttemptFailure ? error.failure : error;
      if (failure instanceof UpstreamError && failure.status === 429) {
        upstream.stats.throttled++;
        this.observer?.throttled(upstream.name);
      }
      return { ok: false, error: failure, delay: error instanceof AttemptFailure ? error.delay : null };
    } finally {
      upstream.stats.inFlight--;
      timers.stop();
      inFlight.dispose();
      if (!controller.signal.aborted) controller.abort(new Error('call finished'));
    }
  }

  /** The backoff before the next attempt, or null when the call must stop now. */
  private nextDelay(error: unknown, attempt: number, committed: boolean, call: CallClock): number | null {
    if (committed || attempt >= this.config.maxAttempts) return null;
    if (error instanceof CircuitOpenError) return null;
    if (error instanceof UpstreamError && !error.retryable) return null;
    // The upstream's own Retry-After, unclamped: asked for more than the budget, the call gives up.
    const delay = retryDelay(
      attempt,
      this.config,
      error instanceof UpstreamError ? error.retryAfterMs : undefined,
    );
    return call.elapsed() + delay > this.config.retryBudgetMs ? null : delay;
  }

  private failed(upstream: Upstream, error: unknown): SockwardenError {
    if (error instanceof CircuitOpenError) {
      return this.rejected(upstream, 'backend_unavailable', error.message, error.retryAfterMs);
    }
    upstream.stats.failures++;
    this.observer?.outcome(upstream.name, 'failure');
    const throttled = error instanceof UpstreamError && error.status === 429;
    const retryAfterMs = error instanceof UpstreamError ? error.retryAfterMs : undefined;
    const message = `upstream ${upstream.name}: ${(error as Error).message}`;
    // The hint goes to clients: whatever the upstream asked for, it names a sane wait (60 s at most).
    return new SockwardenError(throttled ? 'rate_limited' : 'backend_unavailable', message, {
      cause: error,
      retryAfterMs: clampRetryAfter(retryAfterMs ?? this.config.backoffBaseMs),
    });
  }

  private rejected(
    upstream: Upstream,
    code: 'busy' | 'backend_unavailable' | 'rate_limited',
    message: string,
    retryAfterMs: number,
  ): SockwardenError {
    upstream.stats.rejected++;
    this.observer?.outcome(upstream.name, 'rejected');
    return new SockwardenError(code, message, { retryAfterMs });
  }

  private cancelled(upstream: Upstream): SockwardenError {
    upstream.stats.cancelled++;
    this.observer?.outcome(upstream.name, 'cancelled');
    return new SockwardenError('upstream_cancelled', `upstream ${upstream.name}: the owner ended`);
  }
}
