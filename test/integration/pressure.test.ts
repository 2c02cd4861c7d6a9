import { describe, expect, it } from 'vitest';
import { connect, until, useGateway } from '../helpers/gateway.js';

/*
 * Pressure end to end: what a refused client sees over HTTP. The levels, readiness, what critical
 * pressure evicts and in which order are in test/unit/core-pressure.test.ts.
 */
const gw = useGateway();

type Refusal = Error & { status: number; body: string };

describe('pressure levels', () => {
  it('sheds new sessions with 503 under pressure but still admits resumes', async () => {
    const { gateway, url } = await gw.start({ maxConnections: 10, maxConnectionsPerIp: 100 });
    const first = await gw.open({ user: 'u0', session: 'keep' });
    for (let i = 1; i < 8; i++) await gw.open({ user: `u${i}` });
    await gw.open({ user: 'u8' });
    expect(gateway.stats().connections).toBe(9);
    const error = (await connect(url, { user: 'u9' }).then(
      (client) => {
        gw.track(client);
        throw new Error('expected the upgrade to be refused');
      },
      (e: unknown) => e,
    )) as Refusal;
    expect(error.status).toBe(503);
    expect(JSON.parse(error.body).error).toBe('shedding');
    first.ws.terminate();
    await until(() => gateway.stats().connections === 8, 2_000, 'terminated socket released');
    await gw.open({ user: 'u9' });
    const resumed = await gw.open({ user: 'u0', session: 'keep', lastSeq: 0 });
    expect(resumed.frames[0]).toMatchObject({ type: 'welcome', resumed: true });
  });
});
