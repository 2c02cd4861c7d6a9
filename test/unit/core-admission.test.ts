/**
 * Admission on the core alone: every refusal, each per-user policy, the zombie probe and the
 * session limit, on a manual clock with in-memory ports.
 */
import { describe, expect, it } from 'vitest';
import { ResourceLedger, Scope } from '../../src/core/scope.js';
import { SlotQueue } from '../../src/core/slot-queue.js';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { TokenBucket } from '../../src/core/token-bucket.js';
import type { SockwardenError } from '../../src/errors.js';
import { ManualClock } from '../helpers/clock.js';
import { createCore, ENDED, type Opened, Refused } from '../helpers/core.js';

function sessionIds(core: ReturnType<typeof createCore>, user: string): string[] {
  return core.hub
    .sessionsOf(user)
    .map((s) => s.id)
    .sort();
}

/** Tracks a pending promise so a test can say it has not settled yet. */
function track<T>(promise: Promise<T>): { settled: boolean; value: T | undefined; done: Promise<T> } {
  const state = { settled: false, value: undefined as T | undefined, done: promise };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

describe('refusals, in pipeline order', () => {
  it('refuses every upgrade with 503 draining and a jittered retry hint within the drain window once the hub drains', async () => {
    const core = createCore({ drainTimeoutMs: 2_000 });
    const held = await core.connect({ user: 'a' });
    const draining = core.drain();
    let authenticated = 0;
    const error = await core.refuse({ user: 'b', authenticate: () => ({ user: `b${++authenticated}` }) });
    expect(error).toMatchObject({ code: 'draining', status: 503 });
    // Between the window (capped at 5 s) and twice it, so refused clients do not return together.
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(2_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(4_000);
    // Refused before anything else runs: no authentication call for a node that is going away.
    expect(authenticated).toBe(0);
    expect(core.hub.readiness()).toMatchObject({ ready: false, draining: true });
    await draining;
    expect(held.port.closeCode).toBe(1012);
    expect(await core.refuse({ user: 'c' })).toMatchObject({ code: 'draining' });
    expect(core.telemetry.outcomes()).toEqual(['admitted', 'draining', 'draining']);
  });

  it('refuses an upgrade queued when the drain starts with draining, not a slot', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, perUserPolicy: 'queue', queueTimeoutMs: 60_000 });
    await core.connect({ user: 'u' });
    const queued = track(core.refuse({ user: 'u' }));
    await core.flush();
    expect(core.stats().queuedUpgrades).toBe(1);
    const draining = core.drain();
    expect(await queued.done).toMatchObject({ code: 'draining' });
    await draining;
    expect(core.stats().queuedUpgrades).toBe(0);
  });

  it('refuses an origin outside the allow-list with 403, and admits one inside it or none at all', async () => {
    const core = createCore({ allowedOrigins: ['https://chat.example'] });
    const error = await core.refuse({ origin: 'https://evil.example' });
    expect(error).toMatchObject({ code: 'origin_not_allowed', status: 403 });
    expect(error.message).toContain('https://evil.example');
    await core.connect({ origin: 'https://chat.example' });
    // Non-browser clients send no Origin; the allow-list is about browsers.
    await core.connect({ user: 'cli' });
    expect(core.stats().connections).toBe(2);
  });

  it('limits the connect rate per IP and says exactly when the next token comes', async () => {
    const core = createCore({ connectRatePerIp: { perSecond: 1, burst: 3 } });
    for (let i = 0; i < 3; i++) await core.connect({ user: `u${i}`, ip: '10.0.0.7' });
    const error = await core.refuse({ user: 'late', ip: '10.0.0.7' });
    expect(error).toMatchObject({ code: 'connect_rate_limited', status: 429, retryAfterMs: 1_000 });
    // Another address has its own bucket.
    await core.connect({ user: 'elsewhere', ip: '10.0.0.8' });
    await core.advance(600);
    expect(await core.refuse({ user: 'late', ip: '10.0.0.7' })).toMatchObject({ retryAfterMs: 400 });
    await core.advance(400);
    await core.connect({ user: 'late', ip: '10.0.0.7' });
  });

  it('refuses bad credentials with 401 and the authenticator message, holding nothing', async () => {
    const core = createCore();
    const sync = await core.refuse({
      authenticate: () => {
        throw new Error('token signature is invalid');
      },
    });
    expect(sync).toMatchObject({
      code: 'unauthenticated',
      status: 401,
      message: 'token signature is invalid',
    });
    const async = await core.refuse({ authenticate: () => Promise.reject(new Error('token expired')) });
    expect(async).toMatchObject({ code: 'unauthenticated', message: 'token expired' });
    expect(core.stats()).toMatchObject({ connections: 0, sessions: 0, topUsers: [] });
  });

  it('admits the user the authenticator names, not the one the request claims', async () => {
    const core = createCore();
    const { session } = await core.connect({ user: 'claimed', authenticate: () => ({ user: 'verified' }) });
    expect(session.user).toBe('verified');
    expect(core.hub.sessionsOf('claimed')).toEqual([]);
  });

  it('refuses a resume with 503 node_full when the node holds maxConnections', async () => {
    const core = createCore({ maxConnections: 2 });
    const a = await core.connect({ user: 'a', session: 'sa' });
    await core.connect({ user: 'b' });
    a.connection.closed(1006);
    await core.connect({ user: 'c' });
    // New sessions are shed long before the node is full; only a resume gets as far as the engine.
    const error = await core.refuse({ user: 'a', session: 'sa', lastSeq: 0 });
    expect(error).toMatchObject({ code: 'node_full', status: 503 });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(5_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it('caps connections per IP with 429 ip_limit and no retry hint', async () => {
    const core = createCore({ maxConnectionsPerIp: 2 });
    await core.connect({ user: 'a', ip: '10.0.0.1' });
    await core.connect({ user: 'b', ip: '10.0.0.1' });
    const error = await core.refuse({ user: 'c', ip: '10.0.0.1' });
    expect(error).toMatchObject({ code: 'ip_limit', status: 429, retryAfterMs: undefined });
    await core.connect({ user: 'c', ip: '10.0.0.2' });
  });

  it('refuses with bad_request when the client goes away during authentication', async () => {
    const core = createCore();
    const gone = new AbortController();
    let authenticated: (principal: { user: string }) => void = () => {};
    const refusing = core.refuse({
      signal: gone.signal,
      authenticate: () => new Promise((resolve) => (authenticated = resolve)),
    });
    gone.abort();
    authenticated({ user: 'u' });
    const error = await refusing;
    expect(error).toMatchObject({ code: 'bad_request', status: 400 });
    expect(error.message).toMatch(/went away/);
    expect(core.stats().connections).toBe(0);
  });
});

describe('per-user limit', () => {
  it('refuses with 429 user_limit after probing, and live connections keep their slots (policy reject)', async () => {
    const core = createCore({ maxConnectionsPerUser: 2, probeTimeoutMs: 300, timerTickMs: 20 });
    const a = await core.connect({ user: 'u' });
    const b = await core.connect({ user: 'u' });
    const error = await core.refuse({ user: 'u' });
    expect(error).toMatchObject({ code: 'user_limit', status: 429 });
    // Both were asked (one ping each) and both answered.
    expect([a.port.pings, b.port.pings]).toEqual([1, 1]);
    expect(a.connection.open).toBe(true);
    expect(b.connection.open).toBe(true);
    expect(a.port.gone || b.port.gone).toBe(false);
    expect(core.telemetry.zombies).toEqual([]);
    await core.connect({ user: 'other' });
  });

  it('evicts the oldest live connection with 4101 (policy evict-oldest)', async () => {
    const core = createCore({ maxConnectionsPerUser: 2, perUserPolicy: 'evict-oldest' });
    const oldest = await core.connect({ user: 'u' });
    const middle = await core.connect({ user: 'u' });
    const newest = await core.connect({ user: 'u' });
    expect(oldest.port.closedWith).toEqual({
      code: 4101,
      reason: 'evicted by a newer connection of the same user',
    });
    expect(middle.connection.open).toBe(true);
    expect(newest.connection.open).toBe(true);
    expect(core.telemetry.evictions.map((e) => [e.identity.conn, e.reason])).toEqual([
      [oldest.connection.identity.conn, 'user_limit'],
    ]);
    await core.flush();
    expect(core.stats().connections).toBe(2);
    expect(core.telemetry.closeCodes()).toEqual([4101]);
  });

  it('evicts the oldest even while its closing handshake is not answered, without overshooting', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, perUserPolicy: 'evict-oldest' });
    const oldest = await core.connect({ user: 'u', peer: { answerClose: false } });
    const newer = await core.connect({ user: 'u', peer: { answerClose: false } });
    const newest = await core.connect({ user: 'u' });
    expect([oldest.port.closeCode, newer.port.closeCode, newest.port.closeCode]).toEqual([
      4101,
      4101,
      undefined,
    ]);
    // The slot was released at the close, not at the end of the handshake: one live slot.
    expect(core.stats().topUsers).toEqual([{ user: 'u', connections: 1 }]);
  });

  it('queues an upgrade until a slot frees, and times out when none does (policy queue)', async () => {
    const core = createCore({
      maxConnectionsPerUser: 1,
      perUserPolicy: 'queue',
      queueTimeoutMs: 1_500,
      timerTickMs: 20,
    });
    const first = await core.connect({ user: 'u' });
    const waiting = track(core.connect({ user: 'u' }));
    await core.advance(200);
    expect(waiting.settled).toBe(false);
    expect(core.stats().queuedUpgrades).toBe(1);
    first.connection.closed(1000);
    await core.flush();
    expect(waiting.settled).toBe(true);
    const admitted = (await waiting.done) as Opened;
    expect(admitted.port.frames()[0]?.type).toBe('welcome');
    expect(core.stats().queuedUpgrades).toBe(0);

    const refusing = track(core.refuse({ user: 'u' }));
    await core.advance(1_499);
    expect(refusing.settled).toBe(false);
    await core.advance(1);
    expect(refusing.settled).toBe(true);
    const error = refusing.value as SockwardenError;
    expect(error).toMatchObject({ code: 'queue_timeout', status: 429 });
    expect(error.retryAfterMs).toBeDefined();
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(2_000);
    expect(core.stats().queuedUpgrades).toBe(0);
    expect(core.telemetry.outcomes()).toEqual(['admitted', 'admitted', 'queue_timeout']);
  });

  it('gives a freed slot to the longest waiter first', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, perUserPolicy: 'queue', queueTimeoutMs: 10_000 });
    const holder = await core.connect({ user: 'u' });
    const first = track(core.connect({ user: 'u', session: 'first' }));
    await core.advance(100);
    const second = track(core.connect({ user: 'u', session: 'second' }));
    await core.advance(100);
    holder.connection.closed(1000);
    await core.flush();
    expect(first.settled).toBe(true);
    expect(second.settled).toBe(false);
    expect((first.value as Opened).session.id).toBe('first');
    (first.value as Opened).connection.closed(1000);
    await core.flush();
    expect((second.value as Opened | undefined)?.session.id).toBe('second');
  });

  it('refuses with 503 queue_full beyond maxQueuedUpgrades', async () => {
    const core = createCore({
      maxConnectionsPerUser: 1,
      perUserPolicy: 'queue',
      maxQueuedUpgrades: 1,
      queueTimeoutMs: 10_000,
    });
    await core.connect({ user: 'u' });
    await core.connect({ user: 'v' });
    const queued = track(core.admit({ user: 'u' }));
    await core.flush();
    const error = await core.refuse({ user: 'v' });
    expect(error).toMatchObject({ code: 'queue_full', status: 503 });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(2_000);
    expect(queued.settled).toBe(false);
    expect(core.stats().queuedUpgrades).toBe(1);
  });

  it('drops a queued upgrade whose client went away, with bad_request, and frees its place', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, perUserPolicy: 'queue', queueTimeoutMs: 10_000 });
    const holder = await core.connect({ user: 'u' });
    const before = core.resources();
    const gone = new AbortController();
    const refusing = core.refuse({ user: 'u', signal: gone.signal });
    await core.flush();
    expect(core.stats().queuedUpgrades).toBe(1);
    expect(core.resources().timer).toBe((before.timer ?? 0) + 1);
    gone.abort();
    const error = await refusing;
    expect(error).toMatchObject({ code: 'bad_request', message: 'the client went away during admission' });
    expect(core.stats().queuedUpgrades).toBe(0);
    // Its timer went with it.
    expect(core.resources()).toEqual(before);
    holder.connection.closed(1000);
    await core.connect({ user: 'u' });
  });

  it('never queues an upgrade whose client left during the zombie probe, nor lets it take a live waiter’s slot', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, perUserPolicy: 'queue', queueTimeoutMs: 10_000 });
    const holder = await core.connect({ user: 'u' });
    const gone = new AbortController();
    // The holder answers the probe on the next microtask; the client leaves before that.
    const leaving = track(core.refuse({ user: 'u', signal: gone.signal }));
    gone.abort();
    const live = track(core.connect({ user: 'u', session: 'live' }));
    await core.flush();
    expect(leaving.settled).toBe(true);
    expect(leaving.value).toMatchObject({
      code: 'bad_request',
      message: 'the client went away during admission',
    });
    expect(core.stats().queuedUpgrades).toBe(1);
    holder.connection.closed(1000);
    await core.flush();
    expect((live.value as Opened | undefined)?.session.id).toBe('live');
  });
});

describe('zombie probe', () => {
  it('removes connections that do not pong within probeTimeoutMs, then admits the new one', async () => {
    const core = createCore({ maxConnectionsPerUser: 2, probeTimeoutMs: 300, timerTickMs: 20 });
    const zombieA = await core.connect({ user: 'u', peer: { autoPong: false } });
    const zombieB = await core.connect({ user: 'u', peer: { autoPong: false } });
    const third = track(core.connect({ user: 'u' }));
    await core.advance(299);
    expect(third.settled).toBe(false);
    expect(zombieA.connection.open).toBe(true);
    await core.advance(1);
    expect(third.settled).toBe(true);
    const admitted = (await third.done) as Opened;
    expect(admitted.port.frames()[0]?.type).toBe('welcome');
    // Removed without a handshake: the client sees the socket drop (1006).
    expect(zombieA.port.terminated && zombieB.port.terminated).toBe(true);
    expect(zombieA.port.closedWith).toBeNull();
    expect(core.telemetry.zombies.map((z) => z.via)).toEqual(['probe', 'probe']);
    expect(core.telemetry.closeCodes()).toEqual([4000, 4000]);
    expect(core.stats().connections).toBe(1);
  });

  it('removes only the zombie: a connection that pongs stays', async () => {
    const core = createCore({ maxConnectionsPerUser: 2, probeTimeoutMs: 300, timerTickMs: 20 });
    const live = await core.connect({ user: 'u' });
    const zombie = await core.connect({ user: 'u', peer: { autoPong: false } });
    const third = track(core.connect({ user: 'u' }));
    await core.advance(300);
    expect(third.value?.port.welcome()).toMatchObject({ type: 'welcome' });
    expect(zombie.port.terminated).toBe(true);
    expect(live.connection.open).toBe(true);
    expect(core.telemetry.zombies.map((z) => z.identity.conn)).toEqual([zombie.connection.identity.conn]);
  });

  it('shares one probe between concurrent upgrades: one ping per connection', async () => {
    const core = createCore({ maxConnectionsPerUser: 2, probeTimeoutMs: 300, timerTickMs: 20 });
    const a = await core.connect({ user: 'u', peer: { autoPong: false } });
    const b = await core.connect({ user: 'u', peer: { autoPong: false } });
    const both = track(Promise.all([core.connect({ user: 'u' }), core.connect({ user: 'u' })]));
    await core.advance(300);
    expect(both.value).toHaveLength(2);
    expect([a.port.pings, b.port.pings]).toEqual([1, 1]);
    expect(core.telemetry.zombies).toHaveLength(2);
    expect(core.stats().connections).toBe(2);
  });

  it('takes a pong seen within probeTimeoutMs as proof, without a new ping', async () => {
    const core = createCore({ heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, timerTickMs: 20 });
    const { connection, port } = await core.connect({});
    await core.advance(1_000);
    expect(port.pings).toBe(1);
    expect(await connection.probe(300)).toBe(true);
    expect(port.pings).toBe(1);
    await core.advance(400);
    const probing = connection.probe(300);
    await core.flush();
    expect(port.pings).toBe(2);
    expect(await probing).toBe(true);
  });

  it('answers a probe false when the connection goes away first, leaving no timer behind', async () => {
    const core = createCore({ probeTimeoutMs: 300 });
    const { connection } = await core.connect({ peer: { autoPong: false } });
    const probing = connection.probe(300);
    connection.closed(1006);
    expect(await probing).toBe(false);
    expect(await connection.probe(300)).toBe(false);
    expect(core.resources()).toEqual({ scope: 1, session: 1, timer: 1 });
  });
});

describe('atomic admission (I4)', () => {
  it('never exceeds the per-user limit under concurrent upgrades', async () => {
    const core = createCore({ maxConnectionsPerUser: 3, probeTimeoutMs: 200 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 25 }, () => core.connect({ user: 'same' })),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(3);
    const refused = attempts.filter((a) => a.status === 'rejected') as PromiseRejectedResult[];
    expect(refused.every((r) => r.reason instanceof Refused && r.reason.error.code === 'user_limit')).toBe(
      true,
    );
    expect(core.stats().connections).toBe(3);
  });

  it('counts a new session between its admission and its opening against the session limit', async () => {
    const core = createCore({ maxSessionsPerUser: 1 });
    const [first, second] = await Promise.all([core.admit({ user: 'u' }), core.admit({ user: 'u' })]);
    expect(first?.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, error: { code: 'session_limit' } });
  });

  it('gives back the slot and the session place of an upgrade abandoned after admission', async () => {
    const core = createCore({ maxConnectionsPerUser: 1, maxSessionsPerUser: 1 });
    const result = await core.admit({ user: 'u' });
    if (!result.ok) throw result.error;
    expect(core.stats().topUsers).toEqual([{ user: 'u', connections: 1 }]);
    result.ticket.abandon();
    result.ticket.abandon();
    expect(core.stats().topUsers).toEqual([]);
    await core.connect({ user: 'u' });
    // Only the socket that opened counts as an admission; the abandoned upgrade never did.
    expect(core.telemetry.outcomes()).toEqual(['admitted']);
  });
});

describe('session limit', () => {
  it('refuses with 429 session_limit when every session of the user is attached', async () => {
    const core = createCore({ maxSessionsPerUser: 2 });
    await core.connect({ user: 'u', session: 'a' });
    await core.connect({ user: 'u', session: 'b' });
    const error = await core.refuse({ user: 'u', session: 'c' });
    expect(error).toMatchObject({ code: 'session_limit', status: 429 });
    // Resuming a session the user holds is not a new session.
    await core.connect({ user: 'u', session: 'a', lastSeq: 0 });
    expect(sessionIds(core, 'u')).toEqual(['a', 'b']);
  });

  it('drops the session away longest, not the oldest, and its late resume says expired', async () => {
    const core = createCore({ maxSessionsPerUser: 3 });
    const a = await core.connect({ user: 'u', session: 'a' });
    const b = await core.connect({ user: 'u', session: 'b' });
    const x = await core.connect({ user: 'u', session: 'x' });
    b.connection.closed(1006);
    await core.advance(1_000);
    a.connection.closed(1006);
    expect(core.stats().detachedSessions).toBe(2);
    await core.connect({ user: 'u', session: 'c' });
    expect(sessionIds(core, 'u')).toEqual(['a', 'c', 'x']);
    expect(core.telemetry.sessionsEnded).toEqual([{ user: 'u', session: 'b', reason: ENDED.dropped }]);
    const resumed = await core.connect({ user: 'u', session: 'a', lastSeq: 0 });
    expect(resumed.port.welcome()).toMatchObject({ resumed: true });
    x.connection.closed(1000);
    expect(core.hub.sessionsOf('u')).toHaveLength(2);
    const late = await core.connect({ user: 'u', session: 'b', lastSeq: 1 });
    expect(late.port.welcome()).toMatchObject({ resumed: false, resumeFailed: 'expired' });
  });
});

describe('small units', () => {
  it('token bucket: spends the burst, refills at the rate, never beyond the burst', () => {
    const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.msUntilToken(0)).toBe(500);
    expect(bucket.msUntilToken(250)).toBe(250);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.isFull(500)).toBe(false);
    expect(bucket.isFull(2_000)).toBe(true);
    // A long pause does not bank more than the burst.
    expect([1, 2, 3, 4].map(() => bucket.take(1_000_000))).toEqual([true, true, true, false]);
    // A clock that steps back refills nothing.
    expect(bucket.take(0)).toBe(false);
  });

  it('slot queue: wakes by user in arrival order, bounds waiters and time, leaves at once on abort', async () => {
    const clock = new ManualClock();
    const ledger = new ResourceLedger();
    const wheel = new TimerWheel({ tickMs: 10, clock });
    const queue = new SlotQueue(
      Scope.root('admission', ledger, wheel, () => {}),
      2,
      2,
    );
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const never = new AbortController().signal;
    const outcomes: string[] = [];
    void queue.wait('u', 1_000, never).then((o) => outcomes.push(`u1:${o}`));
    const gone = new AbortController();
    void queue.wait('u', 1_000, gone.signal).then((o) => outcomes.push(`u2:${o}`));
    expect(await queue.wait('v', 1_000, never)).toBe('full');
    expect(await queue.wait('v', 0, never)).toBe('timeout');
    expect(queue.size).toBe(2);
    queue.slotFreed('v');
    queue.slotFreed('u');
    await settle();
    expect(outcomes).toEqual(['u1:slot']);
    gone.abort();
    await settle();
    expect(outcomes).toEqual(['u1:slot', 'u2:aborted']);
    expect(ledger.count('timer')).toBe(0);
    void queue.wait('w', 500, never).then((o) => outcomes.push(`w:${o}`));
    clock.advance(490);
    await settle();
    expect(outcomes).toHaveLength(2);
    clock.advance(10);
    await settle();
    expect(outcomes).toEqual(['u1:slot', 'u2:aborted', 'w:timeout']);
    void queue.wait('x', 500, never).then((o) => outcomes.push(`x:${o}`));
    queue.abortAll();
    await settle();
    expect(outcomes.at(-1)).toBe('x:aborted');
    expect(queue.size).toBe(0);
    expect(ledger.count('timer')).toBe(0);
  });
});
