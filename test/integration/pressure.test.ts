import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/clock.js';
import { type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

describe('pressure levels', () => {
  it('sheds new sessions at 85%, and at 95% evicts the quietest connection, oldest first, with 4004', async () => {
    const clock = new ManualClock();
    const running = await gw.start({
      clock,
      maxConnections: 20,
      heartbeatIntervalMs: 5_000,
      pongTimeoutMs: 1_000,
      timerTickMs: 100,
      idleTimeoutMs: 0,
    });
    const { gateway } = running;
    const clients: TestClient[] = [];
    for (let i = 0; i < 17; i++) clients.push(await gw.open({ user: `u${i}`, session: `s${i}` }));
    expect(gateway.stats().pressure).toBe('shedding');
    expect(gateway.ready()).toEqual({ ready: false, pressure: 'shedding', draining: false });
    await expect(gw.open({ user: 'new' })).rejects.toMatchObject({ status: 503 });

    // Two sessions lose their sockets, two new ones take their places while below shedding, then the
    // first two resume: resumes are admitted while shedding, which takes the node to 19/20 = 95%.
    for (const client of clients.splice(0, 2)) client.ws.terminate();
    await until(() => gateway.stats().connections === 15, 2_000, 'two sockets released');
    for (const i of [17, 18]) clients.push(await gw.open({ user: `u${i}`, session: `s${i}` }));
    for (const i of [0, 1]) clients.push(await gw.open({ user: `u${i}`, session: `s${i}`, lastSeq: 0 }));
    expect(gateway.stats().connections).toBe(19);

    // Everyone has been quiet for longer than a heartbeat interval; step the clock with real I/O
    // in between so that pongs keep arriving and nobody is a zombie.
    for (let step = 0; step < 70; step++) {
      clock.advance(100);
      await new Promise((r) => setTimeout(r, 3));
    }
    const oldest = clients[0] as TestClient;
    expect((await oldest.closed).code).toBe(4004);
    expect(gateway.stats()).toMatchObject({ connections: 18, pressure: 'shedding' });
    expect(clients.slice(1).every((c) => c.ws.readyState === c.ws.OPEN)).toBe(true);
    expect(await gateway.metrics()).toMatch(/sockwarden_evictions_total\{reason="pressure"\} 1/);
  });
});
