/**
 * A connection's deadlines on the core alone: heartbeat, idle timeout, maximum lifetime and token
 * expiry, to the tick, on a manual clock. Then the deadline helpers on their own.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleWatch, scheduleLifetime, scheduleTokenExpiry } from '../../src/core/deadlines.js';
import { ResourceLedger, Scope } from '../../src/core/scope.js';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { ManualClock } from '../helpers/clock.js';
import { createCore } from '../helpers/core.js';

const message = (data: unknown) => JSON.stringify({ type: 'message', data });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('heartbeat', () => {
  const timing = { heartbeatIntervalMs: 1_000, pongTimeoutMs: 500, timerTickMs: 100, idleTimeoutMs: 0 };

  it('removes a peer that never pongs at interval + pong timeout, as a zombie with 4000', async () => {
    const core = createCore(timing);
    const { port, session } = await core.connect({ user: 'quiet', peer: { autoPong: false } });
    await core.advance(999);
    expect(port.pings).toBe(0);
    await core.advance(1);
    expect(port.pings).toBe(1);
    await core.advance(499);
    expect(core.stats().connections).toBe(1);
    await core.advance(1);
    expect(core.stats().connections).toBe(0);
    // No handshake with a dead peer: the socket is destroyed.
    expect(port.terminated).toBe(true);
    expect(port.closedWith).toBeNull();
    expect(core.telemetry.zombies.map((z) => z.via)).toEqual(['heartbeat']);
    expect(core.telemetry.closeCodes()).toEqual([4000]);
    // 4000 is a network failure to the client: its session waits for a resume.
    expect(session.ended).toBe(false);
    expect(core.stats().detachedSessions).toBe(1);
  });

  it('keeps a client that answers pings', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({ user: 'alive' });
    for (let step = 0; step < 60; step++) await core.advance(100);
    expect(port.pings).toBeGreaterThanOrEqual(5);
    expect(port.pings).toBe(6);
    expect(connection.open).toBe(true);
    expect(port.gone).toBe(false);
    expect(core.stats().connections).toBe(1);
    expect(core.telemetry.zombies).toEqual([]);
  });

  it('paces pings from the ping, not from a slow pong, and forgives a pong just in time', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({ peer: { autoPong: false } });
    await core.advance(1_400);
    expect(port.pings).toBe(1);
    connection.pong();
    await core.advance(599);
    expect(port.pings).toBe(1);
    await core.advance(1);
    expect(port.pings).toBe(2);
    await core.advance(400);
    connection.pong();
    port.autoPong = true;
    await core.advance(2_000);
    expect(connection.open).toBe(true);
    expect(port.pings).toBe(4);
  });
});

describe('idle timeout', () => {
  const timing = {
    idleTimeoutMs: 10_000,
    warningBeforeCloseMs: 2_000,
    timerTickMs: 100,
    heartbeatIntervalMs: 60_000,
    pongTimeoutMs: 1_000,
  };

  it('warns closeInMs before, then closes 4102; activity postpones it', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({ user: 'idle' });
    await core.advance(5_000);
    connection.receive(message('still here'), false);
    await core.advance(5_000);
    expect(port.frames().some((f) => f.type === 'warning')).toBe(false);
    await core.advance(2_999);
    expect(port.framesOf('warning')).toEqual([]);
    await core.advance(1);
    const [warning] = port.framesOf('warning');
    expect(warning).toMatchObject({ reason: 'idle' });
    expect(warning?.closeInMs as number).toBeGreaterThan(1_500);
    expect(warning?.closeInMs as number).toBeLessThanOrEqual(2_000);
    expect(warning?.closeInMs).toBe(2_000);
    await core.advance(1_999);
    expect(connection.open).toBe(true);
    await core.advance(1);
    expect(port.closedWith).toEqual({ code: 4102, reason: 'idle' });
    expect(core.telemetry.closeCodes()).toEqual([4102]);
  });

  it('lets a message after the warning cancel the close, and warns again a full period later', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({});
    await core.advance(8_000);
    expect(port.framesOf('warning')).toHaveLength(1);
    await core.advance(1_000);
    connection.receive(message('here'), false);
    await core.advance(5_000);
    expect(connection.open).toBe(true);
    await core.advance(3_000);
    expect(port.framesOf('warning')).toHaveLength(2);
    await core.advance(2_000);
    expect(port.closeCode).toBe(4102);
  });

  it('counts messages the server sends as activity, but not pings, acks or warnings', async () => {
    const core = createCore(timing);
    const streaming = await core.connect({ user: 'a' });
    const pinging = await core.connect({ user: 'b' });
    for (let i = 0; i < 12; i++) {
      await streaming.session.send(i);
      pinging.connection.receive('{"type":"ping"}', false);
      pinging.connection.receive('{"type":"ack","seq":0}', false);
      await core.advance(1_000);
    }
    expect(streaming.connection.open).toBe(true);
    expect(streaming.port.framesOf('warning')).toEqual([]);
    expect(pinging.port.closeCode).toBe(4102);
  });

  it('keeps the session of an idle-closed connection for a resume', async () => {
    const core = createCore(timing);
    const { session, port } = await core.connect({ session: 'nap' });
    await core.advance(10_000);
    expect(port.closeCode).toBe(4102);
    await core.flush();
    expect(session.ended).toBe(false);
    const back = await core.connect({ session: 'nap', lastSeq: 0 });
    expect(back.port.welcome()).toMatchObject({ resumed: true });
  });
});

describe('max lifetime', () => {
  const timing = { maxLifetimeMs: 10_000, warningBeforeCloseMs: 1_000, timerTickMs: 100, idleTimeoutMs: 0 };

  it('closes 4002 with a retry_after_ms hint after a lifetime warning', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({ user: 'old' });
    await core.advance(8_999);
    expect(port.framesOf('warning')).toEqual([]);
    await core.advance(1);
    expect(port.framesOf('warning')).toEqual([{ type: 'warning', reason: 'lifetime', closeInMs: 1_000 }]);
    await core.advance(999);
    expect(connection.open).toBe(true);
    await core.advance(1);
    expect(port.closeCode).toBe(4002);
    expect(port.closedWith?.reason).toMatch(/^retry_after_ms=\d+$/);
    // Spread over a tenth of the lifetime at most.
    expect(Number(port.closedWith?.reason.split('=')[1])).toBeLessThanOrEqual(1_000);
  });

  it('warns halfway through a lifetime shorter than twice the warning', async () => {
    const core = createCore({ ...timing, maxLifetimeMs: 1_000, warningBeforeCloseMs: 30_000 });
    const { port } = await core.connect({});
    await core.advance(500);
    expect(port.framesOf('warning')).toEqual([{ type: 'warning', reason: 'lifetime', closeInMs: 500 }]);
    await core.advance(500);
    expect(port.closeCode).toBe(4002);
  });

  it('ends the connection, not the session: the client resumes it', async () => {
    const core = createCore(timing);
    const first = await core.connect({ session: 'long' });
    await first.session.send('before');
    await core.advance(10_000);
    expect(first.port.closeCode).toBe(4002);
    await core.flush();
    await first.session.send('meanwhile');
    const second = await core.connect({ session: 'long', lastSeq: 1 });
    expect(second.port.messages()).toEqual([{ seq: 2, data: 'meanwhile' }]);
  });
});

describe('token expiry', () => {
  const timing = {
    warningBeforeCloseMs: 10_000,
    timerTickMs: 100,
    idleTimeoutMs: 0,
    heartbeatIntervalMs: 600_000,
  };

  it('warns before the token expires, then closes 4003', async () => {
    const core = createCore(timing);
    const { connection, port } = await core.connect({ user: 'tok', expiresAt: core.clock.now() + 60_000 });
    await core.advance(49_999);
    expect(port.framesOf('warning')).toEqual([]);
    await core.advance(1);
    expect(port.framesOf('warning')).toEqual([
      { type: 'warning', reason: 'token_expiring', closeInMs: 10_000 },
    ]);
    await core.advance(9_999);
    expect(connection.open).toBe(true);
    await core.advance(1);
    expect(port.closedWith).toEqual({ code: 4003, reason: 'token expired' });
  });

  it('warns halfway through a short token, and closes an expired one at the next tick without a warning', async () => {
    const core = createCore(timing);
    const short = await core.connect({ user: 'short', expiresAt: core.clock.now() + 4_000 });
    const stale = await core.connect({ user: 'stale', expiresAt: core.clock.now() - 1 });
    await core.advance(100);
    expect(stale.port.closeCode).toBe(4003);
    expect(stale.port.framesOf('warning')).toEqual([]);
    await core.advance(1_900);
    expect(short.port.framesOf('warning')).toEqual([
      { type: 'warning', reason: 'token_expiring', closeInMs: 2_000 },
    ]);
    await core.advance(2_000);
    expect(short.port.closeCode).toBe(4003);
  });

  it('sets no deadline for credentials that do not expire', async () => {
    const core = createCore(timing);
    const { connection } = await core.connect({});
    await core.advance(3_600_000 / 10);
    expect(connection.open).toBe(true);
  });
});

describe('deadline helpers', () => {
  function rig() {
    const clock = new ManualClock();
    const ledger = new ResourceLedger();
    const wheel = new TimerWheel({ tickMs: 10, clock });
    const scope = Scope.root('test', ledger, wheel, () => {}).child('connection');
    const target = {
      open: true,
      quietSince: clock.now(),
      frames: [] as string[],
      ended: [] as Array<[number, string | undefined]>,
      send(frame: string) {
        this.frames.push(frame);
      },
      end(code: number, reason?: string) {
        this.open = false;
        this.ended.push([code, reason]);
      },
    };
    return { clock, ledger, scope, target };
  }

  it('IdleWatch warns at most half the timeout ahead, and stops when the target is gone', () => {
    const { clock, scope, target } = rig();
    new IdleWatch(target, scope, { idleTimeoutMs: 1_000, warningBeforeCloseMs: 5_000 }, clock);
    clock.advance(499);
    expect(target.frames).toEqual([]);
    clock.advance(1);
    expect(target.frames).toEqual([JSON.stringify({ type: 'warning', reason: 'idle', closeInMs: 500 })]);
    target.open = false;
    clock.advance(1_000);
    expect(target.ended).toEqual([]);
  });

  it('scheduleLifetime spreads reconnects over at most a tenth of min(lifetime, 30 s)', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { clock, scope, target } = rig();
    scheduleLifetime(target, scope, 60_000, 3_600_000);
    clock.advance(3_600_000);
    expect(target.ended).toEqual([[4002, 'retry_after_ms=2997']]);
  });

  it('scheduleTokenExpiry and every other deadline end with their scope', () => {
    const { clock, ledger, scope, target } = rig();
    scheduleTokenExpiry(target, scope, 1_000, 5_000);
    scheduleLifetime(target, scope, 1_000, 5_000);
    new IdleWatch(target, scope, { idleTimeoutMs: 5_000, warningBeforeCloseMs: 1_000 }, clock);
    expect(ledger.count('timer')).toBe(5);
    scope.dispose();
    expect(ledger.count('timer')).toBe(0);
    clock.advance(10_000);
    expect(target.frames).toEqual([]);
    expect(target.ended).toEqual([]);
  });
});
