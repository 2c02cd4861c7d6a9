/**
 * `connect` and `disconnect` events travel in a lane of their own: many sessions ending at once must
 * each reach the backend, retried within bounds, and an event finally given up is counted and logged,
 * never dropped in silence.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { bridge, startBackend } from '../helpers/backend.js';
import { type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const SESSIONS = 50;

/** Opens `n` clients, one session each. */
async function openMany(n: number): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < n; i++) clients.push(await gw.open({ user: `u${i}`, session: `s${i}` }));
  return clients;
}

describe('backend bridge: lifecycle events', () => {
  it('50 clients closing at once give the backend exactly 50 disconnects', async () => {
    const running = await gw.start({ connectRatePerIp: { perSecond: 1_000, burst: 1_000 } });
    const backend = await startBackend();
    detachers.push(bridge(running, backend.url, { events: ['disconnect'] }));
    const clients = await openMany(SESSIONS);
    for (const client of clients) client.ws.close(1000);
    const disconnects = () => backend.requests.filter((r) => r.body.event === 'disconnect');
    await until(() => disconnects().length >= SESSIONS, 10_000, 'every disconnect');
    await new Promise((r) => setTimeout(r, 100));
    expect(disconnects()).toHaveLength(SESSIONS);
    const sessions = new Set(disconnects().map((r) => `${r.body.user}/${r.body.session}`));
    expect(sessions.size).toBe(SESSIONS);
    expect(disconnects().every((r) => r.signed)).toBe(true);
    await until(() => running.gateway.stats().resources.upstream === 0);
  });

  it('retries a disconnect the backend cannot take yet, and delivers it', async () => {
    const running = await gw.start({ governor: { maxAttempts: 3, backoffBaseMs: 10 } });
    const backend = await startBackend();
    let refusals = 0;
    backend.handle = (_request, res) => {
      if (refusals++ < 2) res.writeHead(503).end();
      else res.writeHead(204).end();
    };
    detachers.push(bridge(running, backend.url, { events: ['disconnect'] }));
    const [client] = await openMany(1);
    client?.ws.close(1000);
    await until(() => running.gateway.stats().upstream.backend?.successes === 1, 5_000, 'the delivery');
    expect(backend.requests).toHaveLength(3);
    expect(running.gateway.stats().upstream.backend).toMatchObject({ retries: 2, failures: 0 });
  });

  it('counts and logs a disconnect finally given up, naming its user and session', async () => {
    const running = await gw.start({ governor: { maxAttempts: 2, backoffBaseMs: 10 } });
    const backend = await startBackend();
    backend.handle = (_request, res) => void res.writeHead(503).end();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    detachers.push(bridge(running, backend.url, { events: ['disconnect'], logger }));
    const [client] = await openMany(1);
    client?.ws.close(1000);
    await until(() => lines.some((l) => l.event === 'disconnect'), 5_000, 'the give-up log line');
    expect(lines.find((l) => l.event === 'disconnect')).toMatchObject({
      user: 'u0',
      session: 's0',
      code: 'backend_unavailable',
      msg: expect.stringMatching(/disconnect event given up/),
    });
    expect(running.gateway.stats().upstream.backend).toMatchObject({ failures: 1 });
    expect(await running.gateway.metrics()).toMatch(
      /^sockwarden_upstream_requests_total\{upstream="backend",outcome="failure"\} 1$/m,
    );
  });
});
