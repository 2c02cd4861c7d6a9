import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { SockwardenClient } from '../../src/client/client.js';
import { type ClientCloseEvent, type ConnectOptions, connect } from '../../src/client/node.js';
import { jwtAuthenticator } from '../../src/server/jwt.js';
import { until, useGateway } from '../helpers/gateway.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const harness = useGateway();
const clients: SockwardenClient[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

/** An SDK client closed after the test, with every message and close it saw recorded. */
function sdk(url: string, options: ConnectOptions = {}) {
  const client = connect(url, {
    params: { user: 'alice' },
    backoffBaseMs: 50,
    backoffCapMs: 200,
    ...options,
  });
  clients.push(client);
  const seqs: number[] = [];
  const data: unknown[] = [];
  const closes: ClientCloseEvent[] = [];
  client.on('message', (m) => {
    seqs.push(m.seq);
    data.push(m.data);
  });
  client.on('close', (c) => closes.push(c));
  return { client, seqs, data, closes };
}

function opened(client: SockwardenClient): Promise<{ session: string; resumed: boolean }> {
  return new Promise((resolve) => {
    const off = client.on('open', (event) => {
      off();
      resolve(event);
    });
  });
}

async function proxied(port: number): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = await startTcpProxy(port);
  proxies.push(proxy);
  return { proxy, url: `ws://127.0.0.1:${proxy.port}/ws` };
}

describe('client SDK against a real gateway', () => {
  it('connects, receives in order, and its messages reach the session handler', async () => {
    const running = await harness.start();
    const got: unknown[] = [];
    running.gateway.on('session', (session) => session.onMessage((payload) => void got.push(payload)));
    const { client, data } = sdk(running.url);
    await opened(client);
    for (let i = 1; i <= 5; i++) running.gateway.publish({ user: 'alice' }, { i });
    await until(() => data.length === 5);
    expect(data).toEqual([1, 2, 3, 4, 5].map((i) => ({ i })));
    await client.send({ hello: 'gateway' });
    await until(() => got.length === 1);
    expect(got).toEqual([{ hello: 'gateway' }]);
  });

  it('resumes after a network cut with every message exactly once, in order', async () => {
    const running = await harness.start({ heartbeatIntervalMs: 60_000, pongTimeoutMs: 1_000 });
    const { proxy, url } = await proxied(running.port);
    const { client, seqs, data } = sdk(url);
    const resumed: unknown[] = [];
    client.on('resumed', (event) => resumed.push(event));
    const { session } = await opened(client);
    for (let i = 1; i <= 10; i++) running.gateway.publish({ user: 'alice' }, i);
    await until(() => seqs.length === 10);
    // Down rather than a bare cut: the client must stay away until the messages below are
    // published, or on a busy machine it resumes before the test sees it leave.
    proxy.down();
    await until(() => running.gateway.sessions('alice')[0]?.connected === false);
    // Published while the client is away: the session holds them in its replay ring.
    for (let i = 11; i <= 20; i++) running.gateway.publish({ user: 'alice' }, i);
    proxy.up();
    await until(() => seqs.length === 20);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(data).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(resumed).toEqual([{ session, fromSeq: 10 }]);
    expect(client.session).toBe(session);
  });

  it('detects a frozen server by its missing pong and reconnects', async () => {
    const running = await harness.start({ heartbeatIntervalMs: 300, pongTimeoutMs: 200 });
    const { proxy, url } = await proxied(running.port);
    const { client, closes } = sdk(url, { pongTimeoutMs: 300 });
    await opened(client);
    proxy.freeze();
    await until(() => closes.length === 1, 5_000, 'the client to give up on the frozen server');
    expect(closes[0]).toMatchObject({ code: 4000, willReconnect: true });
    proxy.thaw();
    proxy.cut();
    await opened(client);
    expect(client.status).toBe('open');
  });

  it('reconnects after a drain (1012) within the spread of its retry_after_ms hint', async () => {
    const running = await harness.start({ drainTimeoutMs: 1_000 });
    const { client, closes } = sdk(running.url);
    await opened(client);
    const draining = running.gateway.close({ drainMs: 200 });
    await until(() => closes.length === 1);
    expect(closes[0]).toMatchObject({ code: 1012, willReconnect: true });
    expect(closes[0]?.retryInMs).toBeLessThanOrEqual(200);
    await draining;
    expect(client.status).toBe('reconnecting');
  });

  it('does not reconnect when a newer connection takes the session over (4100)', async () => {
    const running = await harness.start();
    const first = sdk(running.url);
    const { session } = await opened(first.client);
    const second = sdk(running.url, { session });
    const event = await opened(second.client);
    expect(event).toEqual({ session, resumed: true });
    await until(() => first.closes.length === 1);
    expect(first.closes[0]).toMatchObject({ code: 4100, willReconnect: false });
    expect(first.client.status).toBe('closed');
    await new Promise((r) => setTimeout(r, 300));
    expect(running.gateway.sessions('alice')).toHaveLength(1);
    expect(second.client.status).toBe('open');
  });

  it.each([
    ['evicted by the per-user limit', 4101],
    ['disconnected by the API', 4103],
  ])('does not reconnect when %s (%i)', async (_what, code) => {
    const running = await harness.start({ maxConnectionsPerUser: 1, perUserPolicy: 'evict-oldest' });
    const first = sdk(running.url);
    await opened(first.client);
    if (code === 4101) await opened(sdk(running.url).client);
    else running.gateway.disconnect({ user: 'alice' });
    await until(() => first.closes.length === 1);
    expect(first.closes[0]).toMatchObject({ code, willReconnect: false });
    await expect(first.client.send('x')).rejects.toMatchObject({ code: 'client_closed' });
  });

  it('retries a refused upgrade (429 per-user limit) with backoff and gets in when a slot frees', async () => {
    const running = await harness.start({ maxConnectionsPerUser: 1, perUserPolicy: 'reject' });
    const holder = sdk(running.url);
    await opened(holder.client);
    const waiting = sdk(running.url);
    await until(() => waiting.closes.length >= 2, 5_000, 'two refused attempts');
    expect(waiting.closes[0]).toMatchObject({ willReconnect: true, refusal: { status: 429 } });
    expect(waiting.client.status).toBe('reconnecting');
    holder.client.close();
    await opened(waiting.client);
    expect(running.gateway.sessions('alice')).toHaveLength(1);
  });

  it('asks getToken for a fresh token after 4003 and resumes the session', async () => {
    const secret = 'a-test-secret-of-at-least-32-bytes!!';
    const running = await harness.start({ authenticate: jwtAuthenticator({ secret }), insecure: false });
    const tokens: number[] = [];
    const issue = async () => {
      const exp = Math.floor(Date.now() / 1000) + (tokens.length === 0 ? 2 : 600);
      tokens.push(exp);
      return new SignJWT({ sub: 'alice' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(secret));
    };
    const { client, closes } = sdk(running.url, { getToken: issue });
    const { session } = await opened(client);
    const again = await new Promise<{ resumed: boolean; session: string }>((resolve) =>
      client.on('open', resolve),
    );
    expect(closes[0]).toMatchObject({ code: 4003, willReconnect: true });
    expect(tokens).toHaveLength(2);
    expect(again).toEqual({ session, resumed: true });
  });

  it('holds sends made while the gateway is unreachable in a bounded queue and delivers them in order', async () => {
    const running = await harness.start();
    const { proxy, url } = await proxied(running.port);
    const got: unknown[] = [];
    running.gateway.on('session', (session) => session.onMessage((payload) => void got.push(payload)));
    const { client } = sdk(url, { maxQueuedMessages: 5 });
    await opened(client);
    proxy.down();
    await until(() => client.status === 'reconnecting');
    const queued = [1, 2, 3, 4, 5].map((i) => client.send(i));
    await expect(client.send(6)).rejects.toMatchObject({ code: 'send_queue_full' });
    proxy.up();
    const ids = await Promise.all(queued);
    expect(new Set(ids).size).toBe(5);
    await until(() => got.length === 5);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});
