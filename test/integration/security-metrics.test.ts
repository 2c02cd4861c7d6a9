import { type Socket, connect as tcpConnect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { HTTP_SERVER_LIMITS } from '../../src/server/http-server.js';
import { serve } from '../helpers/cli.js';
import { useInProcessServer } from '../helpers/http-server.js';

const KEY = 'metrics-test-key-0123456789';

const inProcess = useInProcessServer();

/** Opens a socket that writes `count` pipelined scrapes at once and never reads an answer. */
function pipelineWithoutReading(port: number, count: number): Socket {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.pause();
  socket.on('error', () => {});
  socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(count));
  return socket;
}

/** Reads a paused attacker's socket to its end; resolves with how many answers it got. */
function answersUntilClosed(socket: Socket): Promise<number> {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.resume();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server kept the socket open')), 5_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text.split('HTTP/1.1 200').length - 1);
    });
  });
}

async function timed(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  return performance.now() - started;
}

describe('/metrics under pipelined scrapes', () => {
  it('cuts sockets that pipeline scrapes without reading, and keeps memory and /healthz in bounds', async () => {
    const { base } = await serve(['--insecure']);
    const stats = async () =>
      (await (await fetch(`${base}/api/stats`, { signal: AbortSignal.timeout(2_000) })).json()) as {
        process: { rssBytes: number };
      };
    const before = (await stats()).process.rssBytes;
    const port = Number(new URL(base).port);
    // What the report measured: 12 sockets, thousands of scrapes each, nothing ever read.
    const attackers = Array.from({ length: 12 }, () => pipelineWithoutReading(port, 2_000));
    let slowest = 0;
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 250));
      slowest = Math.max(slowest, await timed(`${base}/healthz`));
    }
    // What is left is Node parsing the one chunk each attacker sent before its socket was cut.
    expect(slowest).toBeLessThan(1_500);
    // Read now: each attacker got a few answers at most, then the server closed its socket.
    const answered = await Promise.all(attackers.map(answersUntilClosed));
    expect(Math.max(...answered)).toBeLessThanOrEqual(HTTP_SERVER_LIMITS.maxUnansweredPerSocket);
    const grown = (await stats()).process.rssBytes - before;
    expect(grown).toBeLessThan(100 * 1024 * 1024);
  });

  it('renders once for concurrent scrapes and serves the text again while it is fresh', async () => {
    // A long freshness, so that a loaded machine cannot stretch the 40 requests past it; expiry is
    // tested on a fake clock in test/unit/metrics-cache.test.ts.
    const { gateway, base } = await inProcess(undefined, { metricsCacheMs: 60_000 });
    const renders = vi.spyOn(gateway, 'metrics');
    const bodies = await Promise.all(
      Array.from({ length: 20 }, async () => (await fetch(`${base}/metrics`)).text()),
    );
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/metrics`)).text();
    expect(renders).toHaveBeenCalledTimes(1);
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).toMatch(/^sockwarden_connections 0$/m);
  });
});

describe('/metrics access', () => {
  it('is open by default, and behind the API key with metrics: key', async () => {
    const open = await inProcess({ apiKey: KEY, openOnLoopback: false });
    expect((await fetch(`${open.base}/metrics`)).status).toBe(200);

    const closed = await inProcess({ apiKey: KEY, openOnLoopback: false, metrics: 'key' });
    const refused = await fetch(`${closed.base}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'unauthorized' });
    const scraped = await fetch(`${closed.base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^sockwarden_connections 0$/m);
  });

  it('is put behind the key by sockwarden serve --metrics-auth key', async () => {
    const { base } = await serve(['--insecure', '--api-key', KEY, '--metrics-auth', 'key']);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(scraped.status).toBe(200);
  });
});
