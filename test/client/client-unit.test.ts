import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SockwardenClient } from '../../src/client/client.js';
import type { ClientCloseEvent } from '../../src/client/client-events.js';
import type { ConnectOptions } from '../../src/client/options.js';
import { SockwardenError } from '../../src/errors.js';
import { type FakeSocket, fakeSockets } from '../helpers/fake-socket.js';

const URL_ = 'ws://gateway.test/ws';

function start(options: ConnectOptions = {}) {
  const { factory, opened } = fakeSockets();
  const client = new SockwardenClient(factory, URL_, { random: () => 0.5, ...options });
  const closes: ClientCloseEvent[] = [];
  client.on('close', (event) => closes.push(event));
  const latest = (): FakeSocket => opened[opened.length - 1] as FakeSocket;
  return { client, opened, closes, latest };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('reconnect pacing', () => {
  it('backs off exponentially with full jitter between 0 and min(cap, base * 2^n)', () => {
    const { opened, closes, latest } = start({
      random: () => 0.999,
      backoffBaseMs: 500,
      backoffCapMs: 30_000,
    });
    for (let i = 0; i < 9; i++) {
      latest().events.closed(1006, '');
      vi.advanceTimersByTime(closes[i]?.retryInMs ?? 0);
    }
    expect(opened).toHaveLength(10);
    expect(closes.map((c) => c.retryInMs)).toEqual([499, 999, 1998, 3996, 7992, 15984, 29970, 29970, 29970]);
  });

  it('draws each delay at random below the ceiling, so a crowd spreads out', () => {
    const low = start({ random: () => 0 });
    low.latest().events.closed(1006, '');
    expect(low.closes[0]?.retryInMs).toBe(0);
    const mid = start({ random: () => 0.25 });
    mid.latest().events.closed(1006, '');
    expect(mid.closes[0]?.retryInMs).toBe(125);
  });

  it("waits exactly the server's retry_after_ms before reconnecting", () => {
    const { opened, closes, latest } = start();
    latest().welcome('s1', 0);
    latest().events.closed(1012, 'retry_after_ms=4321');
    expect(closes[0]).toMatchObject({ code: 1012, willReconnect: true, retryInMs: 4321 });
    vi.advanceTimersByTime(4320);
    expect(opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(2);
  });

  it('treats a refused upgrade as a failed attempt, paced by Retry-After plus jitter', () => {
    const { client, opened, closes, latest } = start();
    latest().events.closed(1006, '', { status: 429, retryAfterMs: 2000 });
    expect(client.status).toBe('reconnecting');
    expect(closes[0]).toMatchObject({ willReconnect: true, retryInMs: 2250, refusal: { status: 429 } });
    vi.advanceTimersByTime(2250);
    expect(opened).toHaveLength(2);
  });

  it('resets the backoff only after a connection stayed up for stableAfterMs', () => {
    const { closes, latest } = start({ random: () => 0.999, stableAfterMs: 5_000 });
    latest().events.closed(1006, '');
    vi.advanceTimersByTime(closes[0]?.retryInMs ?? 0);
    latest().welcome('s1', 0);
    latest().events.closed(1006, ''); // flapping: up for 0 ms
    expect(closes[1]?.retryInMs).toBe(999);
    vi.advanceTimersByTime(closes[1]?.retryInMs ?? 0);
    latest().welcome('s1', 0, { resumed: true });
    vi.advanceTimersByTime(5_000);
    latest().events.closed(1006, '');
    expect(closes[2]?.retryInMs).toBe(499);
  });

  it('gives up after maxReconnectAttempts failures in a row', () => {
    const { client, closes, latest } = start({ maxReconnectAttempts: 2 });
    for (let i = 0; i < 3; i++) {
      latest().events.closed(1006, '');
      vi.advanceTimersByTime(60_000);
    }
    expect(closes.map((c) => c.willReconnect)).toEqual([true, true, false]);
    expect(client.status).toBe('closed');
  });
});

describe('close codes', () => {
  it.each([1001, 1006, 1011, 1012, 1013, 4000, 4001, 4002, 4003, 4004])('reconnects after %i', (code) => {
    const { client, opened, latest } = start();
    latest().welcome('s1', 0);
    latest().events.closed(code, '');
    expect(client.status).toBe('reconnecting');
    vi.advanceTimersByTime(30_000);
    expect(opened).toHaveLength(2);
  });

  it.each([1000, 1008, 1009, 4100, 4101, 4102, 4103, 4104, 4105])(
    'never reconnects after %i and rejects queued sends',
    async (code) => {
      const { client, opened, closes, latest } = start();
      latest().welcome('s1', 0);
      latest().events.closed(code, 'bye');
      expect(client.status).toBe('closed');
      expect(closes).toEqual([{ code, reason: 'bye', willReconnect: false }]);
      vi.advanceTimersByTime(120_000);
      expect(opened).toHaveLength(1);
      await expect(client.send('late')).rejects.toMatchObject({ code: 'client_closed' });
      expect(vi.getTimerCount()).toBe(0);
    },
  );

  it('asks getToken again before the reconnect that follows 4003', async () => {
    let issued = 0;
    const { opened, latest } = start({ getToken: () => `token-${++issued}` });
    await vi.advanceTimersByTimeAsync(0);
    expect(latest().url.searchParams.get('token')).toBe('token-1');
    latest().welcome('s1', 0);
    latest().events.closed(4003, 'token expired');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(opened).toHaveLength(2);
    expect(latest().url.searchParams.get('token')).toBe('token-2');
  });

  it('reports a failing getToken and retries with backoff', async () => {
    let calls = 0;
    const { client, opened } = start({
      getToken: () => {
        calls++;
        if (calls === 1) throw new Error('auth server down');
        return 'ok';
      },
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    await vi.advanceTimersByTimeAsync(0);
    expect(opened).toHaveLength(0);
    expect(errors).toEqual(['token_unavailable']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(opened).toHaveLength(1);
  });
  it('reports a socket the platform refuses to create and retries with backoff', async () => {
    let calls = 0;
    const { factory, opened } = fakeSockets();
    const client = new SockwardenClient(
      (url, events) => {
        if (++calls === 1) throw new Error('SecurityError: mixed content');
        return factory(url, events);
      },
      URL_,
      { random: () => 0.5 },
    );
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    expect(client.status).toBe('reconnecting');
    await Promise.resolve();
    expect(errors).toEqual(['connect_failed']);
    vi.advanceTimersByTime(1_000);
    expect(opened).toHaveLength(1);
    client.close();
  });
});

describe('resume and dedupe', () => {
  it('reconnects with session and lastSeq, and drops replayed duplicates', () => {
    const { client, latest } = start();
    const received: number[] = [];
    client.on('message', ({ seq }) => received.push(seq));
    const resumed: unknown[] = [];
    client.on('resumed', (e) => resumed.push(e));
    latest().welcome('s1', 0);
    for (const seq of [1, 2, 3]) latest().frame({ type: 'message', seq, data: seq });
    latest().events.closed(1006, '');
    vi.advanceTimersByTime(30_000);
    expect(latest().url.searchParams.get('session')).toBe('s1');
    expect(latest().url.searchParams.get('lastSeq')).toBe('3');
    latest().welcome('s1', 5, { resumed: true });
    for (const seq of [2, 3, 4, 5, 5]) latest().frame({ type: 'message', seq, data: seq });
    expect(received).toEqual([1, 2, 3, 4, 5]);
    expect(resumed).toEqual([{ session: 's1', fromSeq: 3 }]);
    expect(client.lastSeq).toBe(5);
  });

  it('emits resume_failed and starts over from the new sequence when the gap is lost', () => {
    const { client, latest } = start();
    const failures: unknown[] = [];
    client.on('resume_failed', (e) => failures.push(e));
    latest().welcome('s1', 0);
    latest().frame({ type: 'message', seq: 1, data: 'a' });
    latest().events.closed(1006, '');
    vi.advanceTimersByTime(30_000);
    latest().welcome('s1', 0, { resumeFailed: 'expired' });
    expect(failures).toEqual([{ session: 's1', reason: 'expired' }]);
    expect(client.lastSeq).toBe(0);
    const received: number[] = [];
    client.on('message', ({ seq }) => received.push(seq));
    latest().frame({ type: 'message', seq: 1, data: 'fresh' });
    expect(received).toEqual([1]);
  });

  it('acknowledges received messages after ackDelayMs so the server can free its ring', () => {
    const { latest } = start({ ackDelayMs: 100 });
    latest().welcome('s1', 0);
    for (const seq of [1, 2, 3]) latest().frame({ type: 'message', seq, data: seq });
    expect(latest().sent).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(latest().sent).toEqual([{ type: 'ack', seq: 3 }]);
  });
  it('reconnect() drops the socket without ending the session and resumes at once', () => {
    const { client, opened, latest } = start();
    latest().welcome('s1', 0);
    latest().frame({ type: 'message', seq: 1, data: 1 });
    client.reconnect();
    expect(opened[0]?.closedWith).toEqual({ code: 4000, reason: 'client reconnect' });
    expect(opened).toHaveLength(2);
    expect(latest().url.searchParams.get('lastSeq')).toBe('1');
    expect(client.status).toBe('reconnecting');
    // Events of the dropped socket no longer reach the client.
    opened[0]?.events.closed(4000, '');
    latest().welcome('s1', 1, { resumed: true });
    expect(client.status).toBe('open');
  });
});

describe('dead-server detection', () => {
  it('pings after heartbeatMs of silence and reconnects when nothing answers', () => {
    const { opened, closes, latest } = start({ pongTimeoutMs: 500 });
    latest().welcome('s1', 0, { heartbeatMs: 1_000 });
    vi.advanceTimersByTime(999);
    expect(latest().sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(latest().sent).toEqual([{ type: 'ping' }]);
    vi.advanceTimersByTime(500);
    expect(opened[0]?.aborted).toBe(true);
    expect(closes[0]).toMatchObject({ code: 4000, willReconnect: true });
    vi.advanceTimersByTime(30_000);
    expect(opened).toHaveLength(2);
  });

  it('stays connected while the server answers or keeps talking', () => {
    const { opened, latest } = start({ pongTimeoutMs: 500 });
    latest().welcome('s1', 0, { heartbeatMs: 1_000 });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1_000);
      latest().frame({ type: 'pong' });
    }
    vi.advanceTimersByTime(700);
    latest().frame({ type: 'message', seq: 1, data: null });
    vi.advanceTimersByTime(700);
    expect(opened).toHaveLength(1);
    expect(opened[0]?.aborted).toBe(false);
  });
});

describe('outgoing queue', () => {
  it('queues sends while offline up to the bound, refuses the next, then flushes in order', async () => {
    const { client, latest } = start({ maxQueuedMessages: 3 });
    const accepted = [client.send('a'), client.send('b'), client.send('c')];
    const refused = client.send('d');
    await expect(refused).rejects.toBeInstanceOf(SockwardenError);
    await expect(refused).rejects.toMatchObject({ code: 'send_queue_full' });
    latest().welcome('s1', 0);
    const ids = await Promise.all(accepted);
    expect(latest().sent.map((f) => [f.type, f.data, f.id])).toEqual(
      ['a', 'b', 'c'].map((data, i) => ['message', data, ids[i]]),
    );
  });

  it('rejects data that is not JSON, naming the problem', async () => {
    const { client, latest } = start();
    latest().welcome('s1', 0);
    await expect(client.send(undefined)).rejects.toMatchObject({ code: 'invalid_data' });
    await expect(client.send(10n)).rejects.toMatchObject({ code: 'invalid_data' });
    expect(latest().sent).toEqual([]);
  });
});

describe('close()', () => {
  it('leaves no timer and no listener, and rejects what was queued', async () => {
    const { client, latest } = start();
    latest().welcome('s1', 0, { heartbeatMs: 1_000 });
    latest().frame({ type: 'message', seq: 1, data: 1 });
    latest().events.closed(1006, '');
    const queued = client.send('pending');
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    client.close();
    expect(vi.getTimerCount()).toBe(0);
    expect((client as unknown as { emitter: { size: number } }).emitter.size).toBe(0);
    await expect(queued).rejects.toMatchObject({ code: 'client_closed' });
    expect(client.status).toBe('closed');
  });

  it.each(['open', 'status', 'close', 'message'] as const)(
    'leaves no timer when a listener of %s calls close()',
    (event) => {
      const { client, latest } = start();
      client.on(event, () => client.close());
      latest().welcome('s1', 0);
      latest().frame({ type: 'message', seq: 1, data: 1 });
      latest().events.closed(1006, '');
      expect(client.status).toBe('closed');
      expect(vi.getTimerCount()).toBe(0);
    },
  );

  it('closes an open socket with 1000, which ends the session on the server', () => {
    const { client, latest } = start();
    latest().welcome('s1', 0);
    client.close();
    expect(latest().closedWith).toEqual({ code: 1000, reason: 'client closed' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('options', () => {
  it.each<[string, ConnectOptions, string | URL]>([
    ['url', {}, 'http://example.com'],
    ['url', {}, 'not a url'],
    ['token', { token: 'a', getToken: () => 'b' }, URL_],
    ['session', { session: 'bad id!' }, URL_],
    ['lastSeq', { lastSeq: 3 }, URL_],
    ['backoffCapMs', { backoffBaseMs: 1000, backoffCapMs: 10 }, URL_],
    ['maxQueuedMessages', { maxQueuedMessages: 0 }, URL_],
    ['pongTimeoutMs', { pongTimeoutMs: -1 }, URL_],
  ])('refuses a bad %s with invalid_config naming it', (field, options, url) => {
    const { factory, opened } = fakeSockets();
    expect(() => new SockwardenClient(factory, url, options)).toThrow(
      expect.objectContaining({ code: 'invalid_config', field }),
    );
    expect(opened).toHaveLength(0);
  });
});
