import { describe, expect, it } from 'vitest';
import type { GatewayOptions } from '../../src/index.js';
import { connect, type Running, type TestClient, until, useGateway } from '../helpers/gateway.js';

/*
 * Admission end to end: what a client sees of each refusal over HTTP (status, JSON body,
 * Retry-After) and admission under real concurrent upgrades. Every refusal, policy and timing on
 * its own is in test/unit/core-admission.test.ts.
 */
const gw = useGateway();
let running: Running | undefined;

async function start(options: GatewayOptions): Promise<Running> {
  running = await gw.start(options);
  return running;
}

async function open(url: string, query: Record<string, string | number>, options = {}): Promise<TestClient> {
  return gw.track(await connect(url, query, options));
}

function sessionIds(gateway: Running['gateway'], user: string): string[] {
  return gateway
    .sessions(user)
    .map((s) => s.id)
    .sort();
}

type Refusal = Error & { status: number; body: string; headers: Record<string, string> };

async function refusal(promise: Promise<unknown>): Promise<Refusal> {
  try {
    const client = await promise;
    gw.track(client as TestClient);
  } catch (error) {
    return error as Refusal;
  }
  throw new Error('expected the upgrade to be refused');
}

describe('per-user limit', () => {
  it('rejects with 429 and a JSON body naming the code (policy reject)', async () => {
    const { url } = await start({ maxConnectionsPerUser: 2 });
    await open(url, { user: 'u' });
    await open(url, { user: 'u' });
    const error = await refusal(connect(url, { user: 'u' }));
    expect(error.status).toBe(429);
    expect(JSON.parse(error.body)).toMatchObject({ error: 'user_limit' });
    await open(url, { user: 'other' });
  });

  it('evicts the oldest live connection with 4101 (policy evict-oldest)', async () => {
    const { url, gateway } = await start({ maxConnectionsPerUser: 2, perUserPolicy: 'evict-oldest' });
    const oldest = await open(url, { user: 'u' });
    const middle = await open(url, { user: 'u' });
    const newest = await open(url, { user: 'u' });
    expect((await oldest.closed).code).toBe(4101);
    expect(middle.ws.readyState).toBe(middle.ws.OPEN);
    expect(newest.ws.readyState).toBe(newest.ws.OPEN);
    await until(() => gateway.stats().connections === 2, 2_000, 'evicted socket gone');
  });

  it('queues an upgrade until a slot frees (policy queue)', async () => {
    const { url, gateway } = await start({ maxConnectionsPerUser: 1, perUserPolicy: 'queue' });
    const first = await open(url, { user: 'u' });
    const waiting = open(url, { user: 'u' });
    await until(() => gateway.stats().queuedUpgrades === 1, 2_000, 'upgrade queued');
    first.ws.close(1000);
    const admitted = await waiting;
    expect(admitted.frames[0]?.type).toBe('welcome');
  });

  it('probes zombies first: two silent clients at a limit of 2 do not lock the user out', async () => {
    const { url, gateway } = await start({ maxConnectionsPerUser: 2, probeTimeoutMs: 300, timerTickMs: 20 });
    const zombieA = await open(url, { user: 'u' }, { autoPong: false });
    const zombieB = await open(url, { user: 'u' }, { autoPong: false });
    const third = await open(url, { user: 'u' });
    expect(third.frames[0]?.type).toBe('welcome');
    expect((await zombieA.closed).code).toBe(1006);
    expect((await zombieB.closed).code).toBe(1006);
    const metrics = await gateway.metrics();
    expect(metrics).toMatch(/sockwarden_zombies_removed_total\{via="probe"\} 2/);
    expect(gateway.stats().connections).toBe(1);
  });
});

describe('atomic admission (I4)', () => {
  it('never exceeds the per-user limit under concurrent upgrades', async () => {
    const { url, gateway } = await start({ maxConnectionsPerUser: 3, probeTimeoutMs: 200, timerTickMs: 20 });
    const attempts = await Promise.allSettled(Array.from({ length: 25 }, () => open(url, { user: 'same' })));
    const admitted = attempts.filter((a) => a.status === 'fulfilled');
    const refused = attempts.filter((a) => a.status === 'rejected') as PromiseRejectedResult[];
    expect(admitted).toHaveLength(3);
    expect(refused.every((r) => (r.reason as Refusal).status === 429)).toBe(true);
    expect(gateway.stats().connections).toBe(3);
  });

  it('never exceeds the node limit under concurrent upgrades of many users', async () => {
    const { url, gateway } = await start({ maxConnections: 5 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => open(url, { user: `u${i}` })),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(5);
    const statuses = new Set(
      (attempts.filter((a) => a.status === 'rejected') as PromiseRejectedResult[]).map(
        (r) => (r.reason as Refusal).status,
      ),
    );
    expect([...statuses]).toEqual([503]);
    expect(gateway.stats().connections).toBe(5);
  });
});

describe('other admission steps', () => {
  it('caps connections per IP', async () => {
    const { url } = await start({ maxConnectionsPerIp: 2 });
    await open(url, { user: 'a' });
    await open(url, { user: 'b' });
    const error = await refusal(connect(url, { user: 'c' }));
    expect(JSON.parse(error.body).error).toBe('ip_limit');
    await open(url, { user: 'c' }, { localAddress: '127.0.0.2' });
  });

  it('limits the connect rate per IP with a Retry-After', async () => {
    const { url } = await start({ connectRatePerIp: { perSecond: 1, burst: 3 } });
    for (let i = 0; i < 3; i++) await open(url, { user: `u${i}` });
    const error = await refusal(connect(url, { user: 'late' }));
    expect(error.status).toBe(429);
    expect(JSON.parse(error.body).error).toBe('connect_rate_limited');
    expect(Number(error.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('refuses an origin outside the allow-list with 403, and admits one inside it', async () => {
    const { url } = await start({ allowedOrigins: ['https://chat.example'] });
    const error = await refusal(connect(url, { user: 'u' }, { origin: 'https://evil.example' }));
    expect(error.status).toBe(403);
    expect(JSON.parse(error.body).error).toBe('origin_not_allowed');
    await open(url, { user: 'u' }, { origin: 'https://chat.example' });
  });

  it('caps sessions per user, dropping a detached session before refusing', async () => {
    const { url, gateway } = await start({ maxSessionsPerUser: 2 });
    const a = await open(url, { user: 'u', session: 'a' });
    await open(url, { user: 'u', session: 'b' });
    a.ws.terminate();
    await until(() => gateway.stats().detachedSessions === 1, 2_000, 'session a detached');
    await open(url, { user: 'u', session: 'c' });
    expect(sessionIds(gateway, 'u')).toEqual(['b', 'c']);
    const error = await refusal(connect(url, { user: 'u', session: 'd' }));
    expect(JSON.parse(error.body).error).toBe('session_limit');
  });

  it('refuses a malformed session id with 400 naming the parameter', async () => {
    const { url } = await start({});
    const error = await refusal(connect(url, { user: 'u', session: 'no spaces!' }));
    expect(error.status).toBe(400);
    expect(JSON.parse(error.body)).toMatchObject({ error: 'bad_request', field: 'session' });
  });
});
