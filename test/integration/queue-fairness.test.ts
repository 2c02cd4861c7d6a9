/**
 * The admission queue is shared by every user, so one user's waiting upgrades must not fill it
 * for everyone: past `maxQueuedUpgradesPerUser` that user is refused (429 user_queue_full) while
 * others still get a place.
 */
import { describe, expect, it } from 'vitest';
import { connect, type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

type Refused = Error & { status: number; body: string; headers: Record<string, string> };

describe('admission queue fairness', () => {
  it("refuses a user's waiting upgrades past their share, and others still queue", async () => {
    const running = await gw.start({
      maxConnectionsPerUser: 1,
      perUserPolicy: 'queue',
      queueTimeoutMs: 10_000,
      maxQueuedUpgrades: 4,
      maxQueuedUpgradesPerUser: 2,
      timerTickMs: 20,
    });
    const { url, gateway } = running;
    const flooder = await gw.open({ user: 'flooder' });
    const other = await gw.open({ user: 'other' });
    const waiting = [connect(url, { user: 'flooder' }), connect(url, { user: 'flooder' })];
    await until(() => gateway.stats().queuedUpgrades === 2, 5_000, 'two queued upgrades');
    const refused = (await connect(url, { user: 'flooder' }).then(
      (client) => gw.track(client),
      (error: Refused) => error,
    )) as Refused;
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'user_queue_full' });
    expect(refused.headers['retry-after']).toBeDefined();
    // The global queue has room left, and another user gets it.
    const otherWaiting = connect(url, { user: 'other' });
    await until(() => gateway.stats().queuedUpgrades === 3, 5_000, "the other user's upgrade queued");
    other.ws.close(1000);
    const admitted = gw.track(await otherWaiting);
    expect(admitted.frames[0]?.type).toBe('welcome');
    // The flooder's queued upgrades are admitted one by one as their slot frees.
    flooder.ws.close(1000);
    const first = gw.track((await Promise.race(waiting)) as TestClient);
    first.ws.close(1000);
    const both = (await Promise.all(waiting)).map((client) => gw.track(client));
    expect(both.map((client) => client.frames[0]?.type)).toEqual(['welcome', 'welcome']);
    expect(both).toContain(first);
    const totals = await gateway.totals();
    expect(totals.admissions.user_queue_full).toBe(1);
  });
});
