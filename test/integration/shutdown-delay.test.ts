/**
 * Shutdowns a load balancer can follow: for the shutdown delay the node is up but unready
 * (`/readyz` 503, new upgrades 503 `draining` with `Retry-After`) while its sockets stay open; then
 * the drain closes them with 1012, then the port closes. Through `sockwarden serve` (SIGTERM and
 * `--shutdown-delay`) and through the library (`beginShutdown()`, `close({ delayMs })`).
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { connect, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

/** Sends a WebSocket upgrade by hand; resolves with the status line and headers of the answer. */
function upgrade(url: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-protocol': 'sockwarden.v1',
      },
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('upgrade', () => reject(new Error('the upgrade was accepted')));
    req.on('error', reject);
    req.end();
  });
}

describe('shutdown delay', () => {
  it('serve: on SIGTERM stays up but unready for --shutdown-delay, then drains with 1012 and exits 0', async () => {
    const { child, base, exited } = await serve(['--insecure', '--shutdown-delay', '1500']);
    const ws = `${base.replace('http', 'ws')}/ws`;
    const client = await connect(ws, { user: 'alice' });
    const signalledAt = performance.now();
    child.kill('SIGTERM');
    // Within the delay: the port answers, and says not ready, instead of refusing connections.
    await new Promise((r) => setTimeout(r, 200));
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toMatchObject({ ready: false, draining: true });
    const refused = await upgrade(`${base}/ws?user=bob`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(performance.now() - signalledAt).toBeLessThan(1_500);

    const closed = await client.closed;
    expect(closed.code).toBe(1012);
    expect(closed.reason).toMatch(/^retry_after_ms=\d+$/);
    expect(performance.now() - signalledAt).toBeGreaterThanOrEqual(1_400);
    expect(await exited).toBe(0);
  });

  it('serve: a second signal during the delay exits 1 at once', async () => {
    const { child, exited } = await serve(['--insecure', '--shutdown-delay', '60000']);
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
  });

  it('library: beginShutdown() makes the gateway unready and refuses upgrades, sockets stay until close()', async () => {
    const running = await gw.start({ drainTimeoutMs: 2_000 });
    const client = await gw.open({ user: 'alice' });
    running.gateway.beginShutdown();
    expect(running.gateway.ready()).toMatchObject({ ready: false, draining: true });
    const refused = await upgrade(`${running.url}?user=bob`.replace('ws:', 'http:'));
    expect(refused).toMatchObject({ status: 503 });
    // A jittered hint of one to two drain windows (2 s here), rounded up to whole seconds.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(2);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(4);
    expect(running.gateway.publish({ user: 'alice' }, 'still here')).toEqual({ delivered: 1, queued: 0 });
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ data: 'still here' });
    await running.gateway.close();
    expect((await client.closed).code).toBe(1012);
  });

  it('library: close({ delayMs }) keeps sockets open for the delay, then drains', async () => {
    const running = await gw.start({ drainTimeoutMs: 2_000 });
    const client = await gw.open({ user: 'alice' });
    const startedAt = performance.now();
    const closing = running.gateway.close({ delayMs: 500 });
    expect(running.gateway.ready()).toMatchObject({ ready: false, draining: true });
    expect((await client.closed).code).toBe(1012);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(450);
    await closing;
  });

  it('library: after close(), an upgrade on the attached server is refused at once with 503 draining', async () => {
    const running = await gw.start();
    await running.gateway.close();
    const refused = await upgrade(`${running.url}?user=late`.replace('ws:', 'http:'));
    expect(refused.status).toBe(503);
    // Any other path is still not the gateway's.
    expect((await upgrade(`http://127.0.0.1:${running.port}/elsewhere`)).status).toBe(404);
  });
});
