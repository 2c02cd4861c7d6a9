/**
 * Drain on the core alone: every socket closed 1012 with spread retry hints, stubborn peers
 * terminated at drainTimeoutMs, and nothing left held afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { EngineFactory } from '../../src/core/engine.js';
import { memoryEngine } from '../../src/engines/memory.js';
import { createCore, ENDED, type Opened } from '../helpers/core.js';

describe('drain', () => {
  it('closes every socket 1012 with retry hints spread over drainMs, ends every session, and releases everything', async () => {
    const core = createCore({ drainTimeoutMs: 2_000 });
    const clients: Opened[] = [];
    for (let i = 0; i < 20; i++) clients.push(await core.connect({ user: `u${i % 5}` }));
    const detached = await core.connect({ user: 'away', session: 'away' });
    detached.connection.closed(1006);
    await core.drain(10_000);
    expect(core.stats().draining).toBe(true);
    expect(core.hub.readiness()).toMatchObject({ ready: false, draining: true });
    expect(new Set(clients.map((c) => c.port.closeCode))).toEqual(new Set([1012]));
    const hints = clients.map((c) =>
      Number(/^retry_after_ms=(\d+)$/.exec(c.port.closedWith?.reason ?? '')?.[1]),
    );
    expect(hints.every((h) => h >= 0 && h <= 10_000)).toBe(true);
    expect(new Set(hints).size).toBeGreaterThan(10);
    expect(core.telemetry.endReasons()).toEqual(Array(21).fill(ENDED.drained));
    expect(await clients[0]?.session.send('late')).toBe(false);
    expect(core.stats()).toMatchObject({ connections: 0, sessions: 0, queuedUpgrades: 0 });
    expect(core.resources()).toEqual({});
  });

  it('terminates peers that ignore the close frame once drainTimeoutMs passes', async () => {
    const core = createCore({ drainTimeoutMs: 300, closeTimeoutMs: 60_000, timerTickMs: 20 });
    const stubborn = await core.connect({ user: 'u', peer: { answerClose: false } });
    let done = false;
    const draining = core.hub.drain().then(() => {
      done = true;
    });
    await core.advance(299);
    expect(stubborn.port.closeCode).toBe(1012);
    expect(stubborn.port.terminated).toBe(false);
    expect(done).toBe(false);
    // At drainTimeoutMs, long before the close timeout would have ended the handshake.
    await core.advance(1);
    expect(done).toBe(true);
    await draining;
    expect(stubborn.port.terminated).toBe(true);
    expect(core.resources()).toEqual({});
  });

  it('finishes at once when every peer answers its close', async () => {
    const core = createCore({ drainTimeoutMs: 10_000 });
    await core.connect({ user: 'a' });
    await core.connect({ user: 'b' });
    let done = false;
    const draining = core.hub.drain(0).then(() => {
      done = true;
    });
    await core.flush();
    expect(done).toBe(true);
    await draining;
    expect(core.telemetry.closeCodes()).toEqual([1012, 1012]);
  });

  it('gives the work its ends started the rest of the whole window, claims hold included, on a shared engine', async () => {
    let finish: () => void = () => {};
    let awaited = false;
    const shared: EngineFactory = (limits, host) =>
      Object.assign(memoryEngine()(limits, host), { shared: true });
    const core = createCore({
      engine: shared,
      drainTimeoutMs: 1_000,
      beforeDispose: () => {
        awaited = true;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    await core.connect({ user: 'u' });
    let done = false;
    const draining = core.hub.drain(2_000).then(() => {
      done = true;
    });
    // The socket closes at once; the session is held 2 s for a claim that never comes, then ends.
    await core.advance(2_100);
    expect(core.telemetry.endReasons()).toEqual([ENDED.drained]);
    expect(awaited).toBe(true);
    // 3 s in all (1 s for sockets, 2 s for claims): the work still has time, and the drain waits.
    await core.advance(500);
    expect(done).toBe(false);
    finish();
    await draining;
    expect(core.resources()).toEqual({});
  });
});
