/**
 * A refused upgrade reaches the application: as an `error` event with the status and the gateway's
 * code, and a 401 or 403 stops the reconnect loop unless getToken can supply a fresh token. Before,
 * a bad token was only a 1006 close, retried forever.
 */
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SockwardenClient } from '../../src/client/client.js';
import type { ClientCloseEvent, ClientErrorEvent } from '../../src/client/client-events.js';
import { connect } from '../../src/client/node.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { jwtAuthenticator } from '../../src/server/jwt.js';
import { type FakeSocket, fakeSockets } from '../helpers/fake-socket.js';
import { useGateway } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

function start(options: ConnectOptions) {
  const { factory, opened } = fakeSockets();
  const client = new SockwardenClient(factory, 'ws://gateway.test/ws', { random: () => 0.5, ...options });
  const closes: ClientCloseEvent[] = [];
  const errors: ClientErrorEvent[] = [];
  client.on('close', (event) => closes.push(event));
  client.on('error', (event) => errors.push(event));
  const latest = (): FakeSocket => opened[opened.length - 1] as FakeSocket;
  return { client, opened, closes, errors, latest };
}

describe('client: refused credentials (fake socket)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a 401 with the server code and stops when the token is fixed', () => {
    vi.useFakeTimers();
    const { client, opened, closes, errors, latest } = start({ token: 'bad' });
    latest().events.closed(1006, '', {
      status: 401,
      code: 'unauthenticated',
      message: 'the token has expired',
    });
    expect(errors).toEqual([
      {
        code: 'unauthenticated',
        message: expect.stringMatching(/^the token has expired; not reconnecting.*getToken/),
        source: 'server',
        status: 401,
      },
    ]);
    expect(closes[0]).toMatchObject({ willReconnect: false, refusal: { status: 401 } });
    expect(client.status).toBe('closed');
    vi.advanceTimersByTime(60_000);
    expect(opened).toHaveLength(1);
  });

  it('stops on a 403 without a body too, naming the status', () => {
    const { client, errors, latest } = start({ token: 'bad' });
    latest().events.closed(1006, '', { status: 403 });
    expect(errors[0]).toMatchObject({ code: 'upgrade_refused', status: 403, source: 'server' });
    expect(errors[0]?.message).toMatch(/HTTP 403/);
    expect(client.status).toBe('closed');
  });

  it('retries a 401 with a fresh token from getToken', async () => {
    vi.useFakeTimers();
    let n = 0;
    const { client, opened, closes, errors, latest } = start({ getToken: () => `token-${++n}` });
    await vi.advanceTimersByTimeAsync(0);
    latest().events.closed(1006, '', {
      status: 401,
      code: 'unauthenticated',
      message: 'the token has expired',
    });
    expect(errors[0]).toMatchObject({
      code: 'unauthenticated',
      message: 'the token has expired',
      status: 401,
    });
    expect(closes[0]).toMatchObject({ willReconnect: true });
    await vi.advanceTimersByTimeAsync(closes[0]?.retryInMs ?? 0);
    expect(opened).toHaveLength(2);
    expect(latest().url.searchParams.get('token')).toBe('token-2');
    client.close();
  });

  it('reports other refusals and keeps retrying them', () => {
    const { client, closes, errors, latest } = start({});
    latest().events.closed(1006, '', {
      status: 503,
      retryAfterMs: 1000,
      code: 'draining',
      message: 'draining',
    });
    expect(errors[0]).toMatchObject({ code: 'draining', status: 503, retryAfterMs: 1000 });
    expect(closes[0]).toMatchObject({ willReconnect: true });
    client.close();
  });
});

describe('client: refused credentials (real gateway with JWT)', () => {
  const gw = useGateway();
  const secret = 'a-test-secret-of-enough-length';

  it('surfaces the 401 body in Node and does not reconnect with the same token', async () => {
    const running = await gw.start({ insecure: false, authenticate: jwtAuthenticator({ secret }) });
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(secret));
    const client = connect(running.url, { token: expired, backoffBaseMs: 10, backoffCapMs: 10 });
    const errors: ClientErrorEvent[] = [];
    const closes: ClientCloseEvent[] = [];
    client.on('error', (event) => errors.push(event));
    client.on('close', (event) => closes.push(event));
    await until(() => closes.length > 0, 5_000, 'the refusal');
    expect(errors[0]).toMatchObject({ code: 'unauthenticated', status: 401, source: 'server' });
    expect(errors[0]?.message).toMatch(/^the token has expired; not reconnecting/);
    expect(closes[0]).toMatchObject({
      willReconnect: false,
      refusal: { status: 401, code: 'unauthenticated' },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closes).toHaveLength(1);
    expect(client.status).toBe('closed');
  });
});
