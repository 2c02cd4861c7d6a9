import { describe, expect, it } from 'vitest';
import type { Session } from '../../src/index.js';
import { type Running, until, useGateway } from '../helpers/gateway.js';

/*
 * Sessions end to end over real sockets: one resume, one failed resume, one takeover and the
 * application API. Numbering, the replay ring, every resume failure, the resume window and acks
 * are in test/unit/core-session.test.ts.
 */
const gw = useGateway();
let running: Running | undefined;

const open = (query: Record<string, string | number>) => gw.open(query);

function sessionsOf(gateway: Running['gateway']): Map<string, Session> {
  const sessions = new Map<string, Session>();
  gateway.on('session', (s) => sessions.set(`${s.user}/${s.id}`, s));
  return sessions;
}

describe('resume', () => {
  it('replays exactly the missed messages, in order, each once', async () => {
    running = await gw.start();
    const sessions = sessionsOf(running.gateway);
    const first = await open({ user: 'u', session: 's1' });
    const session = sessions.get('u/s1') as Session;
    for (let i = 1; i <= 5; i++) await session.send({ n: i });
    await first.next((f) => f.type === 'message' && f.seq === 5);
    first.ws.terminate();
    await until(
      () => !session.writable && running?.gateway.stats().connections === 0,
      2_000,
      'socket released',
    );
    for (let i = 6; i <= 9; i++) await session.send({ n: i });
    const second = await open({ user: 'u', session: 's1', lastSeq: 3 });
    expect(second.frames[0]).toMatchObject({ type: 'welcome', session: 's1', resumed: true, seq: 9 });
    await second.next((f) => f.type === 'message' && f.seq === 9);
    expect(second.messages().map((m) => m.seq)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(second.messages().map((m) => (m.data as { n: number }).n)).toEqual([4, 5, 6, 7, 8, 9]);
    await session.send({ n: 10 });
    await second.next((f) => f.type === 'message' && f.seq === 10);
    expect(sessions.size).toBe(1);
  });

  it('says too_far_behind when the ring no longer holds the gap', async () => {
    running = await gw.start({ replay: { maxMessages: 3, maxBytes: 1_000_000 } });
    const sessions = sessionsOf(running.gateway);
    const first = await open({ user: 'u', session: 's' });
    first.ws.terminate();
    const session = sessions.get('u/s') as Session;
    await until(() => running?.gateway.stats().detachedSessions === 1, 2_000, 'detached');
    for (let i = 1; i <= 6; i++) await session.send(i);
    const second = await open({ user: 'u', session: 's', lastSeq: 1 });
    expect(second.frames[0]).toMatchObject({ resumed: true, resumeFailed: 'too_far_behind', seq: 6 });
  });
});

describe('takeover', () => {
  it('closes the older socket with 4100 and continues on the newer one without loss or duplicates', async () => {
    running = await gw.start();
    const sessions = sessionsOf(running.gateway);
    const older = await open({ user: 'u', session: 't' });
    const session = sessions.get('u/t') as Session;
    await session.send('one');
    await older.next((f) => f.type === 'message' && f.seq === 1);
    const newer = await open({ user: 'u', session: 't', lastSeq: 1 });
    expect((await older.closed).code).toBe(4100);
    expect(newer.frames[0]).toMatchObject({ resumed: true, seq: 1 });
    await session.send('two');
    await newer.next((f) => f.type === 'message' && f.seq === 2);
    expect(newer.messages()).toEqual([{ seq: 2, data: 'two' }]);
    expect(older.messages()).toEqual([{ seq: 1, data: 'one' }]);
    expect(running.gateway.stats()).toMatchObject({ connections: 1, sessions: 1 });
  });
});

describe('application API', () => {
  it('aborts ctx.signal when the session ends, and send() then resolves false', async () => {
    running = await gw.start({ resumeWindowMs: 0 });
    let signal: AbortSignal | undefined;
    let session: Session | undefined;
    running.gateway.on('session', (s) => {
      session = s;
      s.onMessage((_data, ctx) => {
        signal = ctx.signal;
      });
    });
    const client = await open({ user: 'u' });
    client.send({ type: 'message', data: 1 });
    await until(() => signal !== undefined, 2_000, 'handler');
    expect(signal?.aborted).toBe(false);
    client.ws.close(1001);
    await until(() => signal?.aborted === true, 2_000, 'abort on end');
    expect(await session?.send('late')).toBe(false);
  });

  it('reports a throwing handler to the client by ref, and the connection stays up', async () => {
    running = await gw.start();
    running.gateway.on('session', (s) => {
      s.onMessage(async () => {
        throw new Error('handler bug');
      });
    });
    const client = await open({ user: 'u' });
    client.send({ type: 'message', id: 'q7', data: 'x' });
    const error = await client.next((f) => f.type === 'error');
    expect(error).toMatchObject({ code: 'handler_error', ref: 'q7' });
    client.send({ type: 'ping' });
    await client.next((f) => f.type === 'pong');
  });

  it('publishes to every session of a user and disconnects with 4103', async () => {
    running = await gw.start();
    const a = await open({ user: 'u', session: 'a' });
    const b = await open({ user: 'u', session: 'b' });
    expect(running.gateway.publish({ user: 'u' }, { hello: true })).toEqual({ delivered: 2, queued: 0 });
    await a.next((f) => f.type === 'message');
    await b.next((f) => f.type === 'message');
    expect(() => running?.gateway.publish({ user: 'u' }, 10n)).toThrow(/JSON/);
    expect(running.gateway.disconnect({ user: 'u', session: 'a' })).toBe(1);
    expect((await a.closed).code).toBe(4103);
    expect(running.gateway.sessions('u').map((s) => s.id)).toEqual(['b']);
  });
});
