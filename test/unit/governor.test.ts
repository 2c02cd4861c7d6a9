import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ResourceLedger, Scope } from '../../src/core/scope.js';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import type { UpstreamAttempt } from '../../src/core/upstream.js';
import { CallLane, Governor, type GovernorConfig, UpstreamError } from '../../src/governor/governor.js';
import { ManualClock } from '../helpers/clock.js';

const CONFIG: GovernorConfig = {
  maxConcurrent: 4,
  maxQueued: 4,
  perSessionConcurrent: 1,
  perSessionQueued: 2,
  rate: { perSecond: 1_000, burst: 1_000 },
  maxAttempts: 3,
  retryBudgetMs: 30_000,
  backoffBaseMs: 100,
  backoffCapMs: 1_000,
  attemptTimeoutMs: 5_000,
  breaker: {
    consecutiveFailures: 3,
    failureRatio: 0.9,
    windowMs: 10_000,
    minimumRequests: 100,
    halfOpenAfterMs: 2_000,
  },
};

/** A governor on a manual clock; cockatiel's breaker reads Date.now, which follows the same clock. */
function setup(overrides: Partial<GovernorConfig> = {}) {
  const clock = new ManualClock();
  vi.setSystemTime(clock.now());
  const wheel = new TimerWheel({ tickMs: 10, clock });
  const ledger = new ResourceLedger();
  const root = Scope.root('gateway', ledger, wheel, (e) => {
    throw e;
  });
  const governor = new Governor({ ...CONFIG, ...overrides }, () => wheel.now());
  const flush = () => new Promise((r) => setImmediate(r));
  const advance = async (ms: number) => {
    for (let left = ms; left > 0; left -= 10) {
      clock.advance(Math.min(10, left));
      vi.setSystemTime(clock.now());
      await flush();
    }
  };
  return { clock, ledger, root, governor, advance, flush };
}

const failing = (status: number, retryAfterMs?: number) => async () => {
  throw new UpstreamError(
    `HTTP ${status}`,
    retryAfterMs === undefined ? { status } : { status, retryAfterMs },
  );
};
const never = (a: UpstreamAttempt) =>
  new Promise<never>((_resolve, reject) => a.signal.addEventListener('abort', () => reject(a.signal.reason)));

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('governor retries (I7)', () => {
  it('stops after maxAttempts with backend_unavailable, backing off with full jitter in between', async () => {
    const { root, governor, advance } = setup();
    const owner = root.child('session');
    let calls = 0;
    const result = governor.run(
      async () => {
        calls++;
        throw new UpstreamError('HTTP 503', { status: 503 });
      },
      { owner },
    );
    const settled = result.catch((e: unknown) => e);
    await advance(5_000);
    expect(calls).toBe(3);
    expect(await settled).toMatchObject({ code: 'backend_unavailable' });
    expect(governor.stats().default).toMatchObject({ requests: 1, failures: 1, retries: 2, inFlight: 0 });
  });

  it("waits at least the upstream's Retry-After before the next attempt", async () => {
    const { root, governor, advance } = setup();
    const owner = root.child('session');
    const times: number[] = [];
    const result = governor.run(
      async () => {
        times.push(Date.now());
        if (times.length === 1) throw new UpstreamError('HTTP 429', { status: 429, retryAfterMs: 2_000 });
        return 'ok';
      },
      { owner },
    );
    await advance(3_000);
    expect(await result).toBe('ok');
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(2_000);
    expect(governor.stats().default).toMatchObject({ throttled: 1, retries: 1, successes: 1 });
  });

  it('gives up at once with rate_limited when Retry-After is beyond the total budget', async () => {
    const { root, governor, flush } = setup({ retryBudgetMs: 10_000 });
    const owner = root.child('session');
    let calls = 0;
    const error = await governor
      .run(
        async () => {
          calls++;
          throw new UpstreamError('HTTP 429', { status: 429, retryAfterMs: 60_000 });
        },
        { owner },
      )
      .catch((e: unknown) => e);
    await flush();
    expect(calls).toBe(1);
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: 60_000 });
  });

  it('does not retry once output reached the client (commit), so nothing is delivered twice', async () => {
    const { root, governor, advance } = setup();
    const owner = root.child('session');
    let calls = 0;
    const settled = governor
      .run(
        async (a) => {
          calls++;
          a.commit();
          throw new UpstreamError('stream broke', { status: 502 });
        },
        { owner },
      )
      .catch((e: unknown) => e);
    await advance(2_000);
    expect(calls).toBe(1);
    expect(await settled).toMatchObject({ code: 'backend_unavailable' });
  });

  it('aborts a silent attempt after attemptTimeoutMs; progress() keeps a live one going', async () => {
    const { root, governor, advance } = setup({ maxAttempts: 1 });
    const owner = root.child('session');
    const silent = governor.run(never, { owner }).catch((e: unknown) => e);
    let progress: (() => void) | undefined;
    let finish: ((v: string) => void) | undefined;
    const lively = governor.run(
      (a) =>
        new Promise<string>((resolve) => {
          progress = a.progress;
          finish = resolve;
        }),
      { owner: root.child('other') },
    );
    for (let i = 0; i < 4; i++) {
      await advance(2_000);
      progress?.();
    }
    expect(await silent).toMatchObject({
      code: 'backend_unavailable',
      message: expect.stringMatching(/no answer for 5000 ms/),
    });
    finish?.('done');
    expect(await lively).toBe('done');
  });
});

describe('governor time bounds (I7)', () => {
  it('cuts a call that keeps progressing once it passes the retry budget, without blaming the upstream', async () => {
    const { root, governor, advance } = setup({
      retryBudgetMs: 3_000,
      breaker: { ...CONFIG.breaker, consecutiveFailures: 1 },
    });
    let progress: (() => void) | undefined;
    const trickling = governor
      .run(
        (a) => {
          progress = a.progress;
          return never(a);
        },
        { owner: root.child('session') },
      )
      .catch((e: unknown) => e);
    for (let t = 0; t < 4_000; t += 500) {
      progress?.();
      await advance(500);
    }
    expect(await trickling).toMatchObject({
      code: 'backend_unavailable',
      message: expect.stringMatching(/retry budget \(3000 ms\)/),
    });
    expect(governor.stats().default).toMatchObject({ circuit: 'closed', retries: 0, inFlight: 0 });
  });

  it('stops the silence timeout and the budget while an attempt awaits its downstream', async () => {
    const { root, governor, advance, ledger } = setup({ retryBudgetMs: 6_000 });
    let drained: (() => void) | undefined;
    const held = governor.run(
      async (a) => {
        await a.awaitDownstream(new Promise<void>((r) => (drained = r)));
        return 'delivered';
      },
      { owner: root.child('session') },
    );
    await advance(20_000);
    expect(ledger.count('timer')).toBe(0);
    drained?.();
    expect(await held).toBe('delivered');
    expect(governor.stats().default).toMatchObject({ successes: 1, failures: 0 });
  });
});

describe('governor circuit breaker under a fake clock', () => {
  it("counts only the upstream's own failures: never a 4xx, and a 429 once, when the call gives up on it", async () => {
    const { root, governor, advance } = setup();
    const owner = root.child('session');
    const settle = async (call: Promise<unknown>) => {
      const settled = call.catch(() => {});
      await advance(1_000);
      await settled;
    };
    for (const status of [400, 404, 409, 422]) await settle(governor.run(failing(status), { owner }));
    expect(governor.stats().default?.circuit).toBe('closed');
    // Two calls throttled on all three attempts: two failures, not six, below the three that open it.
    for (let i = 0; i < 2; i++) await settle(governor.run(failing(429, 10), { owner }));
    expect(governor.stats().default).toMatchObject({ circuit: 'closed', throttled: 6, failures: 6 });
    await settle(governor.run(failing(429, 10), { owner }));
    expect(governor.stats().default?.circuit).toBe('open');
  });

  it('opens after N consecutive failures, fails fast with the time to half-open, probes once, closes', async () => {
    const { root, governor, advance, flush } = setup({ maxAttempts: 1 });
    const owner = root.child('session');
    for (let i = 0; i < 3; i++) await governor.run(failing(500), { owner }).catch(() => {});
    expect(governor.stats().default?.circuit).toBe('open');
    let called = false;
    const fast = await governor
      .run(
        async () => {
          called = true;
          return 1;
        },
        { owner },
      )
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(fast).toMatchObject({ code: 'backend_unavailable', retryAfterMs: 2_000 });
    await advance(1_000);
    expect(await governor.run(async () => 1, { owner }).catch((e: unknown) => e)).toMatchObject({
      retryAfterMs: 1_000,
    });
    await advance(1_000);
    expect(governor.stats().default?.circuit).toBe('half-open');
    // One probe: a second call waits for it and then runs on the closed circuit.
    let release: ((v: number) => void) | undefined;
    const probe = governor.run(() => new Promise<number>((r) => (release = r)), { owner: root.child('a') });
    await flush();
    const second = governor.run(async () => 2, { owner: root.child('b') });
    await flush();
    expect(governor.stats().default?.circuit).toBe('half-open');
    release?.(1);
    expect(await probe).toBe(1);
    expect(await second).toBe(2);
    expect(governor.stats().default?.circuit).toBe('closed');
  });

  it('reopens when the half-open probe fails', async () => {
    const { root, governor, advance } = setup({ maxAttempts: 1 });
    const owner = root.child('session');
    for (let i = 0; i < 3; i++) await governor.run(failing(503), { owner }).catch(() => {});
    await advance(2_000);
    await governor.run(failing(503), { owner }).catch(() => {});
    expect(governor.stats().default?.circuit).toBe('open');
  });

  it('keeps the circuit open when the half-open probe ends in no verdict on the upstream (a 4xx)', async () => {
    const { root, governor, advance } = setup({ maxAttempts: 1 });
    const owner = root.child('session');
    for (let i = 0; i < 3; i++) await governor.run(failing(503), { owner }).catch(() => {});
    await advance(2_000);
    expect(governor.stats().default?.circuit).toBe('half-open');
    // A refused request proves nothing about recovery: it must not close the circuit for everyone.
    await governor.run(failing(400), { owner }).catch(() => {});
    expect(governor.stats().default?.circuit).toBe('open');
    await advance(2_000);
    expect(await governor.run(async () => 'ok', { owner })).toBe('ok');
    expect(governor.stats().default?.circuit).toBe('closed');
  });

  it('opens on the failure ratio over the window even without N in a row', async () => {
    const { root, governor } = setup({
      maxAttempts: 1,
      breaker: {
        consecutiveFailures: 100,
        failureRatio: 0.5,
        windowMs: 10_000,
        minimumRequests: 4,
        halfOpenAfterMs: 2_000,
      },
    });
    const owner = root.child('session');
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) await governor.run(async () => 1, { owner }).catch(() => {});
      else await governor.run(failing(500), { owner }).catch(() => {});
    }
    expect(governor.stats().default?.circuit).toBe('open');
  });
});

describe('governor ownership (I2, I7)', () => {
  it('aborts in-flight attempts, drops queued calls and clears backoff timers when the owner ends, in that turn', async () => {
    const { root, ledger, governor, flush } = setup();
    const owner = root.child('session');
    let signal: AbortSignal | undefined;
    const inFlight = governor
      .run(
        (a) => {
          signal = a.signal;
          return never(a);
        },
        { owner },
      )
      .catch((e: unknown) => e);
    const queued = governor.run(async () => 1, { owner }).catch((e: unknown) => e);
    const backingOff = governor.run(failing(503), { owner: root.child('other') }).catch((e: unknown) => e);
    await flush();
    expect(ledger.count('upstream')).toBe(1);
    expect(governor.stats().default?.queued).toBe(1);
    const otherOwner = [...(root as unknown as { children: Set<Scope> }).children].find((s) => s !== owner);
    owner.dispose();
    otherOwner?.dispose();
    // Synchronously, before any await: nothing of either owner is left.
    expect(signal?.aborted).toBe(true);
    expect(ledger.count('upstream')).toBe(0);
    expect(ledger.count('timer')).toBe(0);
    expect(ledger.count('abort')).toBe(0);
    expect(await inFlight).toMatchObject({ code: 'upstream_cancelled' });
    expect(await queued).toMatchObject({ code: 'upstream_cancelled' });
    expect(await backingOff).toMatchObject({ code: 'upstream_cancelled' });
    expect(governor.stats().default).toMatchObject({ inFlight: 0, queued: 0, cancelled: 3 });
  });

  it('bounds each session to perSessionConcurrent in flight and perSessionQueued waiting', async () => {
    const { root, governor, flush } = setup();
    const owner = root.child('session');
    const started: number[] = [];
    const calls = [1, 2, 3].map((n) =>
      governor.run(
        async (a) => {
          started.push(n);
          return never(a);
        },
        { owner },
      ),
    );
    for (const call of calls) call.catch(() => {});
    await flush();
    const refused = await governor.run(async () => 4, { owner }).catch((e: unknown) => e);
    expect(started).toEqual([1]);
    expect(refused).toMatchObject({ code: 'busy' });
    expect(governor.stats().default).toMatchObject({ inFlight: 1, queued: 2, rejected: 1 });
    owner.dispose();
  });

  it('bounds a lane to its own concurrency and queue, whatever the owners', async () => {
    const { root, governor, flush } = setup();
    const lane = new CallLane('the test lane', { concurrency: 1, queue: 1 });
    const owners = [1, 2, 3].map(() => root.child('event'));
    const calls = owners.map((owner) => governor.run(never, { owner, lane }).catch((e: unknown) => e));
    await flush();
    expect(await calls[2]).toMatchObject({ code: 'busy', message: expect.stringMatching(/the test lane/) });
    expect(governor.stats().default).toMatchObject({ inFlight: 1, queued: 1, rejected: 1 });
    for (const owner of owners) owner.dispose();
  });

  it('paces attempts by the token bucket of the upstream', async () => {
    const { root, governor, advance } = setup({ rate: { perSecond: 2, burst: 1 } });
    const times: number[] = [];
    const runs = [1, 2, 3].map(() =>
      governor.run(
        async () => {
          times.push(Date.now());
        },
        { owner: root.child('s') },
      ),
    );
    await advance(1_500);
    await Promise.all(runs);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(490);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(490);
  });
});
