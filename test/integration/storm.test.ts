/**
 * The incident this project exists for, replayed: an upstream answers 429 for 10 s while 200 clients
 * keep sending. The governor must pace the gateway's requests by its token bucket, cap every message
 * at its attempt count, answer every client with an error frame rather than silence, and recover.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bridge, startBackend } from '../helpers/backend.js';
import { type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const RATE = 20;
const BURST = 20;
const MAX_ATTEMPTS = 3;
const STORM_MS = 10_000;

describe('429 storm', () => {
  it('stays within the token bucket and attempt cap, answers every client, and recovers', {
    timeout: 60_000,
  }, async () => {
    const running = await gw.start({
      connectRatePerIp: { perSecond: 1_000, burst: 1_000 },
      governor: {
        ratePerSecond: RATE,
        rateBurst: BURST,
        maxAttempts: MAX_ATTEMPTS,
        retryBudgetMs: 5_000,
        backoffBaseMs: 100,
        breakerConsecutiveFailures: 5,
        breakerHalfOpenAfterMs: 1_000,
      },
    });
    const backend = await startBackend();
    const stormEnds = Date.now() + STORM_MS;
    backend.handle = (request, res) => {
      if (Date.now() < stormEnds) res.writeHead(429, { 'retry-after': '1' }).end();
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: request.body.id }));
    };
    detachers.push(bridge(running, backend.url));
    const clients: TestClient[] = [];
    for (let i = 0; i < 200; i++) clients.push(await gw.open({ user: `u${i}` }));

    // Every client sends every 500 ms for the length of the storm.
    const sent = new Map<TestClient, string[]>();
    let n = 0;
    while (Date.now() < stormEnds) {
      for (const client of clients) {
        const id = `m${++n}`;
        client.send({ type: 'message', id, data: 'hello' });
        sent.set(client, [...(sent.get(client) ?? []), id]);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // Every message gets an answer: a reply after recovery, or an error frame that names it.
    const answered = (client: TestClient, id: string) =>
      client.frames.some(
        (f) => f.ref === id || (f.type === 'message' && (f.data as { ok?: string }).ok === id),
      );
    await until(
      () => clients.every((c) => (sent.get(c) ?? []).every((id) => answered(c, id))),
      15_000,
      'every message to be answered',
    );
    const errors = clients.flatMap((c) => c.frames.filter((f) => f.type === 'error'));
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      expect(['rate_limited', 'backend_unavailable', 'busy']).toContain(error.code);
      expect(error.retryAfterMs).toEqual(expect.any(Number));
    }

    // Paced: in any one-second window, at most the burst plus one second of refill reached the backend.
    const times = backend.requests.map((r) => r.at).sort((a, b) => a - b);
    let busiest = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[i] as number) - (times[j] as number) >= 1_000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    expect(busiest).toBeLessThanOrEqual(BURST + RATE + 2);
    // Capped: no message was tried more than MAX_ATTEMPTS times.
    const attempts = new Map<string, number>();
    for (const r of backend.requests)
      attempts.set(String(r.body.id), (attempts.get(String(r.body.id)) ?? 0) + 1);
    expect(Math.max(...attempts.values())).toBeLessThanOrEqual(MAX_ATTEMPTS);
    const stats = running.gateway.stats().upstream.backend;
    expect(stats?.throttled).toBeGreaterThan(0);
    expect(stats?.rejected).toBeGreaterThan(0);

    // Recovered: the circuit closes and traffic flows.
    await until(
      () => running.gateway.stats().upstream.backend?.circuit !== 'open',
      5_000,
      'the circuit to leave open',
    );
    // One burst's worth of clients: more would be paced past the budget by design.
    const after = clients.slice(0, BURST);
    for (const [i, client] of after.entries())
      client.send({ type: 'message', id: `after-${i}`, data: 'again' });
    await until(
      () =>
        after.every((c, i) =>
          c.frames.some((f) => f.type === 'message' && (f.data as { ok?: string }).ok === `after-${i}`),
        ),
      10_000,
      'traffic to flow after recovery',
    );
    expect(running.gateway.stats().upstream.backend?.circuit).toBe('closed');
    const metrics = await running.gateway.metrics();
    expect(metrics).toMatch(/^sockwarden_upstream_throttled_total\{upstream="backend"\} [1-9]\d*$/m);
    expect(metrics).toMatch(
      /^sockwarden_upstream_requests_total\{upstream="backend",outcome="rejected"\} [1-9]\d*$/m,
    );
    expect(metrics).toMatch(/^sockwarden_upstream_circuit_state\{upstream="backend"\} 0$/m);
  });
});
