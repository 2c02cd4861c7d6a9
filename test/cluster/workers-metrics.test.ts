/**
 * `/metrics` of `serve --workers 2` reports the machine, whichever worker takes the scrape: the
 * summed gauges equal the total of both workers every time, per-worker gauges carry a `worker`
 * label, and no counter goes backwards from one scrape to the next. `/api/stats` says which worker
 * answered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { connect, type TestClient } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();

const clients: TestClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.ws.terminate();
});

/** Every sample of the text as `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function value(all: Map<string, number>, series: string): number {
  const found = all.get(series);
  if (found === undefined) throw new Error(`no series ${series} in /metrics`);
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(redis.available)('serve --workers 2: /metrics reports the machine', () => {
  it('sums connections over both workers at every scrape, labels them by worker, and never goes backwards', async () => {
    const node = await serve(['--insecure', '--redis', redis.url, '--redis-prefix', 'wm:', '--workers', '2']);
    const ws = `${node.base.replace('http', 'ws')}/ws`;
    const TOTAL = 12;
    for (let i = 0; i < TOTAL; i++) clients.push(await connect(ws, { user: `u${i}` }));

    const scrape = async () => samples(await (await fetch(`${node.base}/metrics`)).text());
    let previous: Map<string, number> | undefined;
    const seenWorkers = new Set<string>();
    for (let round = 0; round < 8; round++) {
      // Traffic between scrapes, so that counters move; every other pause outlasts the 1 s cache.
      for (const client of clients) client.send({ type: 'message', data: round });
      await sleep(round % 2 === 0 ? 300 : 1_100);
      const now = await scrape();
      expect(value(now, 'sockwarden_connections')).toBe(TOTAL);
      expect(value(now, 'sockwarden_workers')).toBe(2);
      const perWorker = [...now].filter(([series]) => series.startsWith('sockwarden_worker_connections{'));
      expect(perWorker.map(([series]) => series).sort()).toEqual([
        'sockwarden_worker_connections{worker="1"}',
        'sockwarden_worker_connections{worker="2"}',
      ]);
      expect(perWorker.reduce((sum, [, n]) => sum + n, 0)).toBe(TOTAL);
      for (const [series, n] of perWorker) if (n > 0) seenWorkers.add(series);
      expect(value(now, 'sockwarden_admissions_total{outcome="admitted"}')).toBe(TOTAL);
      if (previous) {
        for (const [series, n] of now) {
          if (!/_total(\{|$)/.test(series)) continue;
          const before = previous.get(series);
          if (before !== undefined) expect(n, series).toBeGreaterThanOrEqual(before);
        }
        const received = 'sockwarden_messages_total{direction="received"}';
        expect(value(now, received)).toBeGreaterThanOrEqual(value(previous, received));
      }
      previous = now;
    }
    // Both workers held connections, so the sums above really added two processes.
    expect(seenWorkers.size).toBe(2);
    expect(value(previous as Map<string, number>, 'sockwarden_messages_total{direction="received"}')).toBe(
      TOTAL * 8,
    );
    // Node's own metrics keep their standard names, aggregated too.
    expect(previous?.has('process_resident_memory_bytes')).toBe(true);

    // /api/stats is one worker's and says which.
    const stats = (await (await fetch(`${node.base}/api/stats`)).json()) as {
      worker: { id: number; pid: number };
      workers: number;
    };
    expect(stats.workers).toBe(2);
    expect([1, 2]).toContain(stats.worker.id);
    expect(stats.worker.pid).toBeGreaterThan(0);
  }, 60_000);
});
