/** The backend bridge against real HTTP backends on loopback. */

import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bridge, startBackend, streamLines } from '../helpers/backend.js';
import { type Frame, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const isMessage = (f: Frame) => f.type === 'message';
const isError = (f: Frame) => f.type === 'error';

describe('backend bridge: replies', () => {
  it('POSTs each client message signed, and relays a JSON reply as one message', async () => {
    const running = await gw.start();
    const backend = await startBackend();
    backend.handle = (request, res) => {
      const body = JSON.stringify({ echo: request.body.data });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    };
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice', session: 'chat-1' });
    client.send({ type: 'message', id: 'm1', data: { text: 'hi' } });
    const frame = await client.next(isMessage);
    expect(frame).toMatchObject({ seq: 1, data: { echo: { text: 'hi' } } });
    expect(backend.requests[0]?.body).toEqual({
      event: 'message',
      user: 'alice',
      session: 'chat-1',
      id: 'm1',
      data: { text: 'hi' },
    });
    expect(backend.requests[0]?.signed).toBe(true);
  });

  it('delivers nothing for 204 or a JSON null', async () => {
    const running = await gw.start();
    const backend = await startBackend();
    let n = 0;
    backend.handle = (_request, res) => {
      if (n++ === 0) res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('null');
    };
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice' });
    client.send({ type: 'message', id: 'a', data: 1 });
    client.send({ type: 'message', id: 'b', data: 2 });
    await until(() => backend.requests.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(client.frames.filter((f) => f.type !== 'welcome')).toEqual([]);
  });

  it('streams NDJSON: each line reaches the client the moment it arrives', async () => {
    const running = await gw.start();
    const backend = await startBackend();
    let release: (() => void) | undefined;
    backend.handle = async (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"token":"Hel"}\n{"tok');
      await new Promise<void>((r) => (release = r));
      res.end('en":"lo"}\n');
    };
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice' });
    client.send({ type: 'message', id: 'q', data: 'hello?' });
    // The first line arrives while the backend is still holding the rest of its reply.
    expect(await client.next(isMessage)).toMatchObject({ seq: 1, data: { token: 'Hel' } });
    expect(client.messages()).toHaveLength(1);
    release?.();
    await until(() => client.messages().length === 2);
    expect(client.messages()).toEqual([
      { seq: 1, data: { token: 'Hel' } },
      { seq: 2, data: { token: 'lo' } },
    ]);
  });
});

describe('backend bridge: connect and disconnect events', () => {
  it('sends connect for a new session and disconnect when it ends, both signed', async () => {
    const running = await gw.start({ resumeWindowMs: 200 });
    const backend = await startBackend();
    detachers.push(bridge(running, backend.url, { events: ['connect', 'disconnect'] }));
    const client = await gw.open({ user: 'alice', session: 'chat-9' });
    await until(() => backend.requests.length === 1);
    expect(backend.requests[0]?.body).toEqual({ event: 'connect', user: 'alice', session: 'chat-9' });
    client.ws.close(1000);
    await until(() => backend.requests.length === 2);
    expect(backend.requests[1]?.body).toEqual({ event: 'disconnect', user: 'alice', session: 'chat-9' });
    expect(backend.requests.every((r) => r.signed)).toBe(true);
    // A resume is the same session: no second connect.
    const again = await gw.open({ user: 'alice', session: 'chat-9' });
    again.ws.terminate();
    const resumed = await gw.open({ user: 'alice', session: 'chat-9' });
    expect(resumed.frames[0]).toMatchObject({ resumed: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(backend.requests.map((r) => r.body.event)).toEqual(['connect', 'disconnect', 'connect']);
  });
});

describe('backend bridge: bad replies and failures give the client an error frame', () => {
  it.each([
    ['invalid JSON', 'application/json', '{"oops', /the JSON reply is not valid JSON/],
    [
      'an invalid NDJSON line',
      'application/x-ndjson',
      '{"ok":1}\nnot json\n',
      /an NDJSON line is not valid JSON/,
    ],
    [
      'an NDJSON line over the payload limit',
      'application/x-ndjson',
      `{"big":"${'x'.repeat(3000)}"}\n`,
      /larger than maxPayloadBytes/,
    ],
    ['a wrong content-type', 'text/html', '<p>hi</p>', /neither application\/json nor application\/x-ndjson/],
  ])('%s', async (_what, type, body, message) => {
    const running = await gw.start({ maxPayloadBytes: 2048 });
    const backend = await startBackend();
    backend.handle = (_request, res) => void res.writeHead(200, { 'content-type': type }).end(body);
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice' });
    client.send({ type: 'message', id: 'bad-1', data: 'x' });
    const error = await client.next(isError);
    expect(error).toMatchObject({
      code: 'backend_bad_reply',
      ref: 'bad-1',
      message: expect.stringMatching(message),
    });
    // A bad reply is not retried: the backend answered, just wrongly.
    expect(backend.requests).toHaveLength(1);
    // And the gateway goes on: the next message works.
    backend.handle = (_request, res) =>
      void res.writeHead(200, { 'content-type': 'application/json' }).end('"fine"');
    client.send({ type: 'message', id: 'ok-1', data: 'y' });
    expect((await client.next((f) => isMessage(f) && f.data === 'fine')).data).toBe('fine');
  });

  it('a backend URL that does not speak HTTP', async () => {
    const running = await gw.start({ governor: { maxAttempts: 2, backoffBaseMs: 10 } });
    const garbage = createTcpServer((socket) => socket.end('SSH-2.0-not-http\r\n'));
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    try {
      const port = (garbage.address() as AddressInfo).port;
      detachers.push(bridge(running, `http://127.0.0.1:${port}/events`));
      const client = await gw.open({ user: 'alice' });
      client.send({ type: 'message', id: 'n1', data: 'x' });
      expect(await client.next(isError)).toMatchObject({
        code: 'backend_unavailable',
        ref: 'n1',
        message: expect.stringMatching(/could not be reached/),
      });
    } finally {
      garbage.close();
    }
  });

  it('500 is not retried; 503 is retried with Retry-After up to the attempt cap', async () => {
    const running = await gw.start({ governor: { maxAttempts: 3, backoffBaseMs: 10 } });
    const backend = await startBackend();
    backend.handle = (request, res) => {
      if (request.body.id === 'five-hundred') res.writeHead(500).end();
      else res.writeHead(503, { 'retry-after': '0' }).end();
    };
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice' });
    client.send({ type: 'message', id: 'five-hundred', data: 1 });
    expect(await client.next(isError)).toMatchObject({ code: 'backend_unavailable', ref: 'five-hundred' });
    expect(backend.requests).toHaveLength(1);
    client.send({ type: 'message', id: 'unavailable', data: 2 });
    expect(await client.next((f) => isError(f) && f.ref === 'unavailable')).toMatchObject({
      code: 'backend_unavailable',
      retryAfterMs: expect.any(Number),
    });
    expect(backend.requests.filter((r) => r.body.id === 'unavailable')).toHaveLength(3);
  });
});

describe('backend bridge: streams belong to the session', () => {
  it('aborts the upstream request within 100 ms of the resume window ending', async () => {
    const resumeWindowMs = 400;
    // The default timer tick: the guarantee must hold as shipped.
    const running = await gw.start({ resumeWindowMs });
    const backend = await startBackend();
    backend.handle = (_request, res) =>
      streamLines(
        res,
        Array.from({ length: 200 }, (_, i) => ({ i })),
        20,
      );
    detachers.push(bridge(running, backend.url));
    const client = await gw.open({ user: 'alice', session: 's' });
    client.send({ type: 'message', id: 'long', data: 'go' });
    await client.next((f) => isMessage(f) && (f.seq as number) >= 3);
    client.ws.terminate();
    await until(() => running.gateway.sessions('alice')[0]?.connected === false);
    const detachedAt = Date.now();
    const closedAt = await (backend.requests[0]?.closed as Promise<number>);
    const late = closedAt - (detachedAt + resumeWindowMs);
    expect(late).toBeLessThan(100);
    expect(closedAt - detachedAt).toBeGreaterThanOrEqual(resumeWindowMs - 30);
    expect(running.gateway.stats().upstream.backend).toMatchObject({ inFlight: 0 });
    expect(running.gateway.stats().resources.upstream ?? 0).toBe(0);
  });

  it('a client that resumes in time gets every chunk exactly once, the missed ones from the ring', async () => {
    const running = await gw.start({ resumeWindowMs: 5_000 });
    const backend = await startBackend();
    backend.handle = (_request, res) =>
      streamLines(
        res,
        Array.from({ length: 30 }, (_, i) => i),
        15,
      );
    detachers.push(bridge(running, backend.url));
    const first = await gw.open({ user: 'alice', session: 'stream' });
    first.send({ type: 'message', id: 'long', data: 'go' });
    await first.next((f) => isMessage(f) && (f.seq as number) >= 5);
    first.ws.terminate();
    const before = first.messages();
    await new Promise((r) => setTimeout(r, 120));
    const lastSeq = before[before.length - 1]?.seq as number;
    const second = await gw.open({ user: 'alice', session: 'stream', lastSeq });
    expect(second.frames[0]).toMatchObject({ type: 'welcome', resumed: true });
    await until(() => second.messages().at(-1)?.data === 29, 5_000, 'the stream to finish');
    const all = [...before, ...second.messages()];
    expect(all.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(all.map((m) => m.data)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(backend.requests).toHaveLength(1);
  });
});
