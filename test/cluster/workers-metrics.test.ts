/**
 * `/metrics` of `serve --workers 2` reports the machine, whichever worker takes the scrape: the
 * summed gauges equal the total of both workers every time, per-worker gauges carry a `worker`
 * label, and no counter goes backwards from one scrape to the next. `/api/stats` says which worker
 * answered.
 */
import { type AddressInfo, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { connect, type TestClient, until } from '../helpers/gateway.js';
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

/** A port free now on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

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

  it('keeps the counters of a worker that died in the sums, so none goes backwards', async () => {
    // A fixed port: with --port 0 a replacement worker would listen on a random port of its own.
    const port = await freePort();
    const node = await serve([
      '--insecure',
      '--redis',
      redis.url,
      '--redis-prefix',
      'wk:',
      '--workers',
      '2',
      '--port',
      String(port),
    ]);
    const ws = `${node.base.replace('http', 'ws')}/ws`;
    for (let i = 0; i < 10; i++) clients.push(await connect(ws, { user: `k${i}` }));
    for (const client of clients) client.send({ type: 'message', data: 'before' });
    // A kept-alive socket to the killed worker fails once: ask again on a new one.
    const scrape = async (): Promise<Map<string, number>> => {
      try {
        return samples(await (await fetch(`${node.base}/metrics`)).text());
      } catch {
        if (process.env.DEBUG_WM) console.log('DEBUG', node.stderr().slice(-1500));
        return samples(
          await (await fetch(`${node.base}/metrics`, { headers: { connection: 'close' } })).text(),
        );
      }
    };
    const received = 'sockwarden_messages_total{direction="received"}';
    const admitted = 'sockwarden_admissions_total{outcome="admitted"}';
    let before = await scrape();
    await until(
      async () => {
        before = await scrape();
        return value(before, received) === 10;
      },
      { what: 'ten messages counted' },
    );
    const { worker } = (await (await fetch(`${node.base}/api/stats`)).json()) as { worker: { pid: number } };
    process.kill(worker.pid, 'SIGKILL');
    // Through the death and the replacement: every scrape at least what was counted before.
    const deadline = Date.now() + 6_000;
    let replaced = false;
    while (Date.now() < deadline) {
      await sleep(300);
      const now = await scrape();
      expect(value(now, received)).toBeGreaterThanOrEqual(10);
      expect(value(now, admitted)).toBeGreaterThanOrEqual(value(before, admitted));
      replaced ||= value(now, 'sockwarden_workers') === 2 && value(now, 'sockwarden_connections') < 10;
    }
    expect(replaced).toBe(true);
  }, 60_000);
});
