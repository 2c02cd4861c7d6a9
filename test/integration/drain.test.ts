import { describe, expect, it } from 'vitest';
import { connect, type Running, type TestClient, useGateway } from '../helpers/gateway.js';

/*
 * Drain end to end over real sockets. Stubborn peers terminated at drainTimeoutMs, and drain's
 * timings, are in test/unit/core-drain.test.ts.
 */
const gw = useGateway();
let running: Running | undefined;

describe('drain', () => {
  it('refuses new upgrades, closes every socket 1012 with spread retry hints, and releases everything', async () => {
    running = await gw.start({ drainTimeoutMs: 2_000 });
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) clients.push(await connect(running.url, { user: `u${i % 5}` }));
    const closing = running.gateway.close({ drainMs: 10_000 });
    expect(running.gateway.stats().draining).toBe(true);
    expect(running.gateway.ready()).toMatchObject({ ready: false, draining: true });
    await expect(connect(running.url, { user: 'late' })).rejects.toMatchObject({ status: 503 });
    const closes = await Promise.all(clients.map((c) => c.closed));
    await closing;
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1012]));
    const hints = closes.map((c) => Number(/^retry_after_ms=(\d+)$/.exec(c.reason)?.[1]));
    expect(hints.every((h) => h >= 0 && h <= 10_000)).toBe(true);
    expect(new Set(hints).size).toBeGreaterThan(10);
    const stats = running.gateway.stats();
    expect(stats).toMatchObject({ connections: 0, sessions: 0 });
    expect(Object.entries(stats.resources).filter(([, n]) => n !== 0)).toEqual([]);
  });
});
