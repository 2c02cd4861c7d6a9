/**
 * Pressure on the core alone: the levels and their thresholds, readiness, shedding new sessions
 * while admitting resumes, and what critical pressure evicts, in which order.
 */
import { describe, expect, it } from 'vitest';
import { levelFor, PRESSURE_THRESHOLDS, PressureMonitor } from '../../src/core/pressure.js';
import { type Core, createCore, ENDED, type Opened, Refused } from '../helpers/core.js';

/** Opens `count` new sessions of users `u<from>`... */
async function fill(core: Core, from: number, count: number): Promise<Opened[]> {
  const opened: Opened[] = [];
  for (let i = from; i < from + count; i++)
    opened.push(await core.connect({ user: `u${i}`, session: `s${i}` }));
  return opened;
}

describe('pressure monitor', () => {
  it('maps the ratio of budget in use to levels at 80, 85 and 95 %', () => {
    expect(PRESSURE_THRESHOLDS).toEqual({ warning: 0.8, shedding: 0.85, critical: 0.95 });
    const levels = [0, 0.79, 0.8, 0.849, 0.85, 0.949, 0.95, 1, 3].map(levelFor);
    expect(levels).toEqual([
      'ok',
      'ok',
      'warning',
      'warning',
      'shedding',
      'shedding',
      'critical',
      'critical',
      'critical',
    ]);
  });

  it('takes the worse of connections and heap, reads the heap only on sample, and reports changes once', () => {
    let connections = 0;
    let heap = { used: 0, limit: 100 };
    const changes: string[] = [];
    const monitor = new PressureMonitor(
      { connections: () => connections, maxConnections: 10, heap: () => heap },
      {
        pressure: (from: string, to: string, ratio: number) => void changes.push(`${from}>${to}@${ratio}`),
      } as never,
    );
    connections = 8;
    expect(monitor.update()).toBe('warning');
    expect(monitor.update()).toBe('warning');
    heap = { used: 96, limit: 100 };
    // The heap is costly to read: update() keeps the last sample.
    expect(monitor.update()).toBe('warning');
    expect(monitor.sample()).toBe('critical');
    expect(monitor.ratio).toBe(0.96);
    connections = 0;
    expect(monitor.update()).toBe('critical');
    heap = { used: 0, limit: 0 };
    expect(monitor.sample()).toBe('ok');
    expect(monitor.level).toBe('ok');
    expect(changes).toEqual(['ok>warning@0.8', 'warning>critical@0.96', 'critical>ok@0']);
  });
});

describe('levels on the hub', () => {
  it('reports each level in stats and readiness as connections fill the node', async () => {
    const core = createCore({ maxConnections: 20 });
    expect(core.hub.readiness()).toEqual({ ready: true, pressure: 'ok', draining: false });
    await fill(core, 0, 16);
    expect(core.stats()).toMatchObject({ pressure: 'warning', pressureRatio: 0.8 });
    expect(core.hub.readiness()).toEqual({ ready: true, pressure: 'warning', draining: false });
    await fill(core, 16, 1);
    expect(core.stats().pressure).toBe('shedding');
    expect(core.hub.readiness()).toEqual({ ready: false, pressure: 'shedding', draining: false });
    expect(core.telemetry.pressureChanges.map((c) => c.to)).toEqual(['warning', 'shedding']);
  });

  it('counts the heap from the next maintenance sample on', async () => {
    const core = createCore({ maxConnections: 100 });
    core.heap = { used: 90, limit: 100 };
    expect(core.hub.readiness().pressure).toBe('ok');
    const away = await core.connect({ user: 'before the sample' });
    away.connection.closed(1006);
    await core.advance(1_000);
    expect(core.hub.readiness()).toEqual({ ready: false, pressure: 'shedding', draining: false });
    const error = await core.refuse({ user: 'after the sample' });
    expect(error).toMatchObject({ code: 'shedding', status: 503 });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(5_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(10_000);
    // Shedding refuses, but only critical pressure takes anything away.
    await core.advance(5_000);
    expect(away.session.ended).toBe(false);
    expect(core.telemetry.endReasons()).toEqual([]);
  });
});

describe('shedding and critical pressure', () => {
  it('sheds new sessions at 85%, and at 95% evicts the quietest connection, oldest first, with 4004', async () => {
    const core = createCore({
      maxConnections: 20,
      heartbeatIntervalMs: 5_000,
      pongTimeoutMs: 1_000,
      timerTickMs: 100,
      idleTimeoutMs: 0,
    });
    const clients = await fill(core, 0, 17);
    expect(core.stats().pressure).toBe('shedding');
    expect(core.hub.readiness()).toEqual({ ready: false, pressure: 'shedding', draining: false });
    await expect(core.connect({ user: 'new' })).rejects.toBeInstanceOf(Refused);
    expect(await core.refuse({ user: 'new' })).toMatchObject({ code: 'shedding', status: 503 });

    // Two sessions lose their sockets, two new ones take their places while below shedding, then the
    // first two resume: resumes are admitted while shedding, which takes the node to 19/20 = 95%.
    for (const client of clients.splice(0, 2)) client.connection.closed(1006);
    expect(core.stats().connections).toBe(15);
    clients.push(...(await fill(core, 17, 2)));
    for (const i of [0, 1]) clients.push(await core.connect({ user: `u${i}`, session: `s${i}`, lastSeq: 0 }));
    expect(core.stats().connections).toBe(19);

    // Everyone has been quiet for longer than a heartbeat interval, and answers pings.
    for (let step = 0; step < 70; step++) await core.advance(100);
    const oldest = clients[0] as Opened;
    expect(oldest.port.closeCode).toBe(4004);
    expect(oldest.port.closedWith?.reason).toMatch(/^retry_after_ms=\d+$/);
    expect(core.stats()).toMatchObject({ connections: 18, pressure: 'shedding' });
    expect(clients.slice(1).every((c) => c.connection.open)).toBe(true);
    expect(core.telemetry.evictions.map((e) => e.reason)).toEqual(['pressure']);
    expect(core.telemetry.zombies).toEqual([]);
  });

  it('ends detached sessions first, the one away longest first; a late resume says expired', async () => {
    const core = createCore({ maxConnections: 20, resumeWindowMs: 60_000, heartbeatIntervalMs: 30_000 });
    const [a, b, live] = await fill(core, 0, 3);
    b?.connection.closed(1006);
    await core.advance(500);
    a?.connection.closed(1006);
    core.heap = { used: 96, limit: 100 };
    await core.advance(500);
    expect(core.stats().pressure).toBe('critical');
    // One per tick: 2 % of maxConnections, at least one.
    expect(core.telemetry.sessionsEnded).toEqual([{ user: 'u1', session: 's1', reason: ENDED.shed }]);
    await core.advance(1_000);
    expect(core.telemetry.endReasons()).toEqual([ENDED.shed, ENDED.shed]);
    expect(core.telemetry.sessionsEnded[1]).toMatchObject({ user: 'u0' });
    // A socket active within the heartbeat interval is no candidate.
    expect(live?.connection.open).toBe(true);
    expect(core.stats()).toMatchObject({ sessions: 1, detachedSessions: 0, replayBytes: 0 });
    // Still critical, and budget left: a socket active within the heartbeat interval stays.
    await core.advance(3_000);
    expect(core.stats().pressure).toBe('critical');
    expect(live?.connection.open).toBe(true);
    expect(core.telemetry.evictions).toEqual([]);
    core.heap = { used: 0, limit: 100 };
    await core.advance(1_000);
    const late = await core.connect({ user: 'u1', session: 's1', lastSeq: 1 });
    expect(late.port.welcome()).toMatchObject({ resumed: false, resumeFailed: 'expired' });
  });

  it('evicts a socket awaiting its pong before a quieter one that answered', async () => {
    const core = createCore({
      maxConnections: 20,
      heartbeatIntervalMs: 5_000,
      pongTimeoutMs: 1_000,
      timerTickMs: 100,
      idleTimeoutMs: 0,
    });
    const quiet = await core.connect({ user: 'quiet' });
    const active = await core.connect({ user: 'active' });
    await core.advance(1_500);
    const silent = await core.connect({ user: 'silent', peer: { autoPong: false } });
    for (let t = 0; t < 5_000; t += 500) {
      await active.session.send(t);
      await core.advance(500);
    }
    // Now 6500: quiet answered its ping at 5000; silent is pinged at 6500 and will never answer.
    core.heap = { used: 96, limit: 100 };
    await core.advance(500);
    expect(silent.port.closeCode).toBe(4004);
    expect(quiet.connection.open).toBe(true);
    // The next tick ends the evicted socket's session, now detached; the one after, the quiet socket.
    await active.session.send('still');
    await core.advance(1_000);
    expect(core.telemetry.sessionsEnded).toEqual([
      { user: 'silent', session: silent.session.id, reason: ENDED.shed },
    ]);
    expect(quiet.connection.open).toBe(true);
    await active.session.send('still');
    await core.advance(1_000);
    expect(quiet.port.closeCode).toBe(4004);
    expect(active.connection.open).toBe(true);
    const hint = Number(quiet.port.closedWith?.reason.split('=')[1]);
    expect(hint).toBeGreaterThanOrEqual(5_000);
    expect(hint).toBeLessThanOrEqual(10_000);
    expect(core.telemetry.evictions.map((e) => e.identity.user)).toEqual(['silent', 'quiet']);
  });

  it('evicts at most 2 % of maxConnections per tick, and stops once the node is back under critical', async () => {
    const core = createCore({
      maxConnections: 100,
      connectRatePerIp: { perSecond: 1_000, burst: 1_000 },
      heartbeatIntervalMs: 5_000,
      pongTimeoutMs: 1_000,
      idleTimeoutMs: 0,
    });
    const clients = await fill(core, 0, 85);
    for (const client of clients.slice(0, 10)) client.connection.closed(1006);
    await fill(core, 85, 10);
    for (let i = 0; i < 10; i++) await core.connect({ user: `u${i}`, session: `s${i}`, lastSeq: 0 });
    expect(core.stats()).toMatchObject({ connections: 95, pressure: 'critical' });
    await core.advance(5_000);
    const evicted = core.telemetry.evictions.length;
    expect(evicted).toBeGreaterThanOrEqual(1);
    expect(evicted).toBeLessThanOrEqual(2);
    expect(core.stats().connections).toBe(95 - evicted);
    await core.advance(10_000);
    expect(core.telemetry.evictions).toHaveLength(evicted);
    expect(core.stats().pressure).toBe('shedding');
  });
});
