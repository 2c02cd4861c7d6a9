/**
 * Sessions on the core alone: numbering, the replay ring, resume and its failures, takeover, the
 * resume window and acks, on a manual clock with in-memory ports.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/core/registry.js';
import { messageFrame } from '../../src/protocol.js';
import { createCore, ENDED } from '../helpers/core.js';

const ack = (seq: number) => JSON.stringify({ type: 'ack', seq });
const message = (data: unknown, id?: string) =>
  JSON.stringify(id === undefined ? { type: 'message', data } : { type: 'message', id, data });

describe('sequence numbers', () => {
  it('welcomes at seq 0 and numbers messages from 1, in order, on the socket', async () => {
    const core = createCore();
    const { port, session } = await core.connect({ user: 'u', session: 's' });
    expect(port.welcome()).toMatchObject({ type: 'welcome', session: 's', resumed: false, seq: 0 });
    for (const data of ['a', { b: 2 }, [3]]) expect(await session.send(data)).toBe(true);
    expect(port.messages()).toEqual([
      { seq: 1, data: 'a' },
      { seq: 2, data: { b: 2 } },
      { seq: 3, data: [3] },
    ]);
    expect(session.seq).toBe(3);
  });

  it('numbers published messages with the same sequence, and counts delivered and queued sessions', async () => {
    const core = createCore();
    const a = await core.connect({ user: 'u', session: 'a' });
    const b = await core.connect({ user: 'u', session: 'b' });
    await a.session.send('first');
    b.connection.closed(1006);
    expect(core.hub.publish({ user: 'u' }, '{"hello":true}')).toEqual({ delivered: 1, queued: 1 });
    expect(core.hub.publish({ user: 'u', session: 'a' }, '"only a"')).toEqual({ delivered: 1, queued: 0 });
    expect(core.hub.publish({ user: 'nobody' }, '1')).toEqual({ delivered: 0, queued: 0 });
    expect(a.port.messages()).toEqual([
      { seq: 1, data: 'first' },
      { seq: 2, data: { hello: true } },
      { seq: 3, data: 'only a' },
    ]);
    expect(b.session.seq).toBe(1);
  });

  it('refuses data JSON cannot carry with invalid_data, and sends nothing', async () => {
    const core = createCore();
    const { port, session } = await core.connect({});
    expect(() => session.send(10n)).toThrow(expect.objectContaining({ code: 'invalid_data' }));
    expect(() => session.send(undefined)).toThrow(expect.objectContaining({ code: 'invalid_data' }));
    expect(session.seq).toBe(0);
    expect(port.messages()).toEqual([]);
  });
});

describe('resume', () => {
  it('replays exactly the missed messages, in order, each once, then carries on', async () => {
    const core = createCore();
    const first = await core.connect({ user: 'u', session: 's1' });
    const { session } = first;
    for (let i = 1; i <= 5; i++) await session.send({ n: i });
    first.connection.closed(1006);
    expect(session.writable).toBe(false);
    expect(core.stats()).toMatchObject({ connections: 0, sessions: 1, detachedSessions: 1 });
    for (let i = 6; i <= 9; i++) await session.send({ n: i });
    const second = await core.connect({ user: 'u', session: 's1', lastSeq: 3 });
    expect(second.session).toBe(session);
    expect(second.port.welcome()).toMatchObject({ type: 'welcome', session: 's1', resumed: true, seq: 9 });
    expect(second.port.messages().map((m) => m.seq)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(second.port.messages().map((m) => (m.data as { n: number }).n)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(core.telemetry.replays.map((r) => r.count)).toEqual([6]);
    await session.send({ n: 10 });
    expect(second.port.messages().map((m) => m.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(first.port.messages().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    // The application saw one session, not two.
    expect(core.sessions.size).toBe(1);
  });

  it('replays byte for byte what was first sent', async () => {
    const core = createCore();
    const first = await core.connect({ user: 'u', session: 's' });
    await first.session.send({ text: 'héllo', list: [1, 2] });
    first.connection.closed(1006);
    const second = await core.connect({ user: 'u', session: 's', lastSeq: 0 });
    expect(second.port.sent.slice(1)).toEqual(first.port.sent.slice(1));
  });

  it('says too_far_behind when the ring no longer holds the gap (bounded by messages)', async () => {
    const core = createCore({ replay: { maxMessages: 3, maxBytes: 1_000_000 } });
    const first = await core.connect({ user: 'u', session: 's' });
    first.connection.closed(1006);
    for (let i = 1; i <= 6; i++) await first.session.send(i);
    const behind = await core.connect({ user: 'u', session: 's', lastSeq: 2 });
    expect(behind.port.welcome()).toMatchObject({ resumed: true, resumeFailed: 'too_far_behind', seq: 6 });
    expect(behind.port.messages()).toEqual([]);
    expect(core.telemetry.resumeFailures.map((f) => f.reason)).toEqual(['too_far_behind']);
    // The three newest are still there for a client that has the rest.
    behind.connection.closed(1006);
    const caughtUp = await core.connect({ user: 'u', session: 's', lastSeq: 3 });
    expect(caughtUp.port.welcome()).not.toHaveProperty('resumeFailed');
    expect(caughtUp.port.messages().map((m) => m.seq)).toEqual([4, 5, 6]);
  });

  it('bounds the ring by bytes too', async () => {
    const data = 'x'.repeat(40);
    const frameBytes = messageFrame(1, JSON.stringify(data)).length;
    const core = createCore({ replay: { maxMessages: 1_000, maxBytes: frameBytes * 2 + 1 } });
    const first = await core.connect({ user: 'u', session: 's' });
    first.connection.closed(1006);
    for (let i = 0; i < 3; i++) await first.session.send(data);
    expect(core.stats().replayBytes).toBe(frameBytes * 2);
    const behind = await core.connect({ user: 'u', session: 's', lastSeq: 0 });
    expect(behind.port.welcome()).toMatchObject({ resumeFailed: 'too_far_behind', seq: 3 });
    behind.connection.closed(1006);
    const caughtUp = await core.connect({ user: 'u', session: 's', lastSeq: 1 });
    expect(caughtUp.port.messages().map((m) => m.seq)).toEqual([2, 3]);
  });

  it('says unknown for a session it never had, and expired for one whose window passed', async () => {
    const core = createCore({ resumeWindowMs: 1_000, timerTickMs: 100 });
    const fresh = await core.connect({ user: 'u', session: 'never', lastSeq: 4 });
    expect(fresh.port.welcome()).toMatchObject({ resumed: false, resumeFailed: 'unknown', seq: 0 });
    const gone = await core.connect({ user: 'u', session: 'old' });
    gone.connection.closed(1006);
    expect(core.stats().detachedSessions).toBe(1);
    await core.advance(1_200);
    expect(core.hub.sessionsOf('u').map((s) => s.id)).not.toContain('old');
    const late = await core.connect({ user: 'u', session: 'old', lastSeq: 2 });
    expect(late.port.welcome()).toMatchObject({ resumed: false, resumeFailed: 'expired' });
    expect(core.telemetry.resumeFailures.map((f) => f.reason)).toEqual(['unknown', 'expired']);
  });

  it('starts a new session without complaint when the client had nothing yet (lastSeq 0)', async () => {
    const core = createCore();
    const { port } = await core.connect({ user: 'u', session: 'new', lastSeq: 0 });
    expect(port.welcome()).toEqual({
      type: 'welcome',
      session: 'new',
      resumed: false,
      seq: 0,
      heartbeatMs: 25_000,
    });
  });

  it("treats another user's session id as unknown and never shows that user's messages", async () => {
    const core = createCore();
    const alice = await core.connect({ user: 'alice', session: 'shared' });
    await alice.session.send('secret');
    const mallory = await core.connect({ user: 'mallory', session: 'shared', lastSeq: 0 });
    expect(mallory.port.welcome()).toMatchObject({ resumed: false });
    expect(mallory.session).not.toBe(alice.session);
    await core.advance(1_000);
    expect(mallory.port.messages()).toEqual([]);
    // Asking for what alice received gets nothing of hers either: the id is unknown to eve.
    const eve = await core.connect({ user: 'eve', session: 'shared', lastSeq: 1 });
    expect(eve.port.welcome()).toMatchObject({ resumed: false, resumeFailed: 'unknown', seq: 0 });
    expect(eve.port.messages()).toEqual([]);
    expect(alice.port.messages()).toEqual([{ seq: 1, data: 'secret' }]);
  });
});

describe('takeover', () => {
  it('closes the older socket with 4100 and continues on the newer one without loss or duplicates', async () => {
    const core = createCore();
    const older = await core.connect({ user: 'u', session: 't' });
    await older.session.send('one');
    const newer = await core.connect({ user: 'u', session: 't', lastSeq: 1 });
    expect(older.port.closedWith).toEqual({ code: 4100, reason: 'replaced by a newer connection' });
    expect(newer.port.welcome()).toMatchObject({ resumed: true, seq: 1 });
    await newer.session.send('two');
    expect(newer.port.messages()).toEqual([{ seq: 2, data: 'two' }]);
    expect(older.port.messages()).toEqual([{ seq: 1, data: 'one' }]);
    await core.flush();
    expect(core.stats()).toMatchObject({ connections: 1, sessions: 1 });
    expect(core.telemetry.closeCodes()).toEqual([4100]);
  });

  it('is admitted at the per-user limit, since it replaces a connection', async () => {
    const core = createCore({ maxConnectionsPerUser: 1 });
    const older = await core.connect({ user: 'u', session: 't' });
    const newer = await core.connect({ user: 'u', session: 't', lastSeq: 0 });
    expect(older.port.closeCode).toBe(4100);
    expect(newer.connection.open).toBe(true);
  });

  it('ignores what the replaced socket still sends, while its close is unanswered', async () => {
    const core = createCore();
    const received: unknown[] = [];
    const older = await core.connect({ user: 'u', session: 't', peer: { answerClose: false } });
    older.session.onMessage((data) => void received.push(data));
    const newer = await core.connect({ user: 'u', session: 't', lastSeq: 0 });
    older.connection.receive(message('stale'), false);
    newer.connection.receive(message('fresh'), false);
    older.connection.receive(ack(1), false);
    expect(received).toEqual(['fresh']);
    // The old socket's close, when it comes, does not detach the session from the new one.
    older.connection.closed(1006);
    expect(newer.session.writable).toBe(true);
    expect(core.stats().detachedSessions).toBe(0);
  });
});

describe('resume window', () => {
  it('keeps a detached session for resumeWindowMs, then ends it and releases every resource', async () => {
    const core = createCore({ resumeWindowMs: 5_000, timerTickMs: 100 });
    const { connection, session } = await core.connect({ user: 'u', session: 's' });
    const owned = session.scope.abortController();
    session.scope.timer(60_000, () => {});
    let signal: AbortSignal | undefined;
    session.onMessage((_data, ctx) => {
      signal = ctx.signal;
    });
    connection.receive(message(1), false);
    await session.send('kept');
    connection.closed(1006);
    await core.advance(4_900);
    expect(session.ended).toBe(false);
    expect(core.stats()).toMatchObject({ sessions: 1, detachedSessions: 1 });
    await core.advance(100);
    expect(session.ended).toBe(true);
    expect(core.telemetry.sessionsEnded).toEqual([{ user: 'u', session: 's', reason: ENDED.expired }]);
    expect(owned.signal.aborted).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(await session.send('late')).toBe(false);
    expect(core.stats()).toMatchObject({ connections: 0, sessions: 0, replayBytes: 0, users: 0 });
    expect(core.resources()).toEqual({});
  });

  it('is stopped by a resume: the session then outlives the window', async () => {
    const core = createCore({ resumeWindowMs: 1_000, timerTickMs: 100 });
    const first = await core.connect({ user: 'u', session: 's' });
    first.connection.closed(1006);
    await core.advance(900);
    const second = await core.connect({ user: 'u', session: 's', lastSeq: 0 });
    await core.advance(5_000);
    expect(second.session.ended).toBe(false);
    expect(second.connection.open).toBe(true);
  });

  it('ends the session at once on a final close code, or when the window is 0', async () => {
    const core = createCore();
    const normal = await core.connect({ user: 'u', session: 'bye' });
    normal.connection.closed(1000);
    const dropped = await core.connect({ user: 'u', session: 'dropped' });
    dropped.connection.closed(1006);
    expect(normal.session.ended).toBe(true);
    expect(dropped.session.ended).toBe(false);
    expect(core.telemetry.endReasons()).toEqual([ENDED.finalClose]);

    const noWindow = createCore({ resumeWindowMs: 0 });
    const once = await noWindow.connect({ user: 'u' });
    once.connection.closed(1006);
    expect(once.session.ended).toBe(true);
    expect(noWindow.resources()).toEqual({});
  });
});

describe('acks', () => {
  it('free acknowledged frames from the ring; a resume then replays only what follows', async () => {
    const core = createCore();
    const first = await core.connect({ user: 'u', session: 's' });
    for (let i = 1; i <= 5; i++) await first.session.send(i);
    const full = core.stats().replayBytes;
    first.connection.receive(ack(3), false);
    const frame = (seq: number) => messageFrame(seq, String(seq)).length;
    expect(core.stats().replayBytes).toBe(full - frame(1) - frame(2) - frame(3));
    first.connection.closed(1006);
    const second = await core.connect({ user: 'u', session: 's', lastSeq: 3 });
    expect(second.port.messages().map((m) => m.seq)).toEqual([4, 5]);
    // Acknowledged frames are gone: a client that claims less than it acknowledged cannot get them.
    second.connection.closed(1006);
    const confused = await core.connect({ user: 'u', session: 's', lastSeq: 1 });
    expect(confused.port.welcome()).toMatchObject({ resumeFailed: 'too_far_behind' });
  });

  it('free everything on an ack beyond the last sent message, and numbering and replay carry on', async () => {
    const core = createCore();
    const first = await core.connect({ user: 'u', session: 's' });
    await first.session.send('a');
    first.connection.receive(ack(99), false);
    expect(core.stats().replayBytes).toBe(0);
    await first.session.send('b');
    first.connection.closed(1006);
    const second = await core.connect({ user: 'u', session: 's', lastSeq: 1 });
    expect(second.port.welcome()).not.toHaveProperty('resumeFailed');
    expect(second.port.messages()).toEqual([{ seq: 2, data: 'b' }]);
  });
});

describe('application API', () => {
  it('runs handlers with data, id and the session, and reports a throwing one by ref', async () => {
    const core = createCore();
    const seen: unknown[] = [];
    const { connection, port, session } = await core.connect({});
    session.onMessage((data, ctx) => void seen.push([data, ctx.id, ctx.session === session]));
    const remove = session.onMessage(() => {
      throw new Error('handler bug');
    });
    connection.receive(message({ q: 1 }, 'q7'), false);
    await core.flush();
    expect(seen).toEqual([[{ q: 1 }, 'q7', true]]);
    expect(port.framesOf('error')).toEqual([
      { type: 'error', code: 'handler_error', message: 'the message could not be processed', ref: 'q7' },
    ]);
    expect(core.telemetry.failures.map((f) => f.where)).toEqual(['message handler']);
    remove();
    connection.receive(message(2), false);
    connection.receive('{"type":"ping"}', false);
    expect(port.framesOf('error')).toHaveLength(1);
    expect(port.framesOf('pong')).toHaveLength(1);
    expect(connection.open).toBe(true);
  });

  it('closes with 4103 and ends the session on session.close() and on hub.disconnect()', async () => {
    const core = createCore();
    const a = await core.connect({ user: 'u', session: 'a' });
    const b = await core.connect({ user: 'u', session: 'b' });
    const c = await core.connect({ user: 'u', session: 'c' });
    a.session.close();
    expect(a.port.closedWith).toEqual({ code: 4103, reason: 'closed by the application' });
    expect(core.hub.disconnect({ user: 'u', session: 'b' })).toBe(1);
    expect(b.port.closedWith).toEqual({ code: 4103, reason: 'disconnected by the API' });
    expect(core.hub.sessionsOf('u').map((s) => s.id)).toEqual(['c']);
    expect(core.hub.disconnect({ user: 'u' })).toBe(1);
    expect(c.session.ended).toBe(true);
    await core.flush();
    expect(core.resources()).toEqual({});
  });
});

describe('backpressure', () => {
  const limits = { highWaterMarkBytes: 100, maxBufferedBytes: 1_000 };

  it('resolves send() at once under the high-water mark, and once the reader drains above it', async () => {
    const core = createCore(limits);
    const { port, session } = await core.connect({ peer: { accumulate: true } });
    port.drain();
    let first = false;
    void session.send('small').then((ok) => {
      first = ok;
    });
    await core.flush();
    expect(first).toBe(true);
    let second: boolean | undefined;
    void session.send('x'.repeat(100)).then((ok) => {
      second = ok;
    });
    await core.flush();
    expect(second).toBeUndefined();
    expect(session.writable).toBe(false);
    expect(core.stats().bufferedBytes).toBe(port.bufferedAmount);
    expect(core.resources().waiter).toBe(1);
    // The first frame is written out; the second is still over the mark.
    port.writeOut(1);
    await core.flush();
    expect(port.bufferedAmount).toBeGreaterThan(100);
    expect(second).toBeUndefined();
    port.writeOut(1);
    await core.flush();
    expect(second).toBe(true);
    expect(session.writable).toBe(true);
    expect(core.resources().waiter).toBeUndefined();
  });

  it('closes a slow consumer with 4001 past maxBufferedBytes and loses nothing on resume', async () => {
    const core = createCore(limits);
    const first = await core.connect({ session: 's', peer: { accumulate: true } });
    first.port.drain();
    await first.session.send('a');
    const results: boolean[] = [];
    void first.session.send('b'.repeat(200)).then((ok) => results.push(ok));
    await core.flush();
    expect(results).toEqual([]);
    void first.session.send('c'.repeat(1_000)).then((ok) => results.push(ok));
    expect(first.port.closedWith).toEqual({ code: 4001, reason: 'retry_after_ms=0' });
    // A producer waiting on the buffer is let go when the socket goes.
    await core.flush();
    expect(results).toEqual([true, true]);
    expect(first.session.ended).toBe(false);
    const second = await core.connect({ session: 's', lastSeq: 1 });
    expect(second.port.messages().map((m) => m.seq)).toEqual([2, 3]);
    expect(second.port.sent.slice(1)).toEqual(first.port.sent.slice(2));
  });
});

describe('registry', () => {
  const session = (user: string, id: string) =>
    ({ user, id, identity: { user, session: id, sessionKey: `${user.length}:${user}/${id}` } }) as never;
  const connection = (user: string) => ({ identity: { user } }) as never;

  it('finds sessions by key and by user, oldest first, and removes by the same handle', () => {
    const registry = new Registry();
    const a = session('u', 'a');
    const b = session('u', 'b');
    registry.addSession(a);
    registry.addSession(b);
    registry.addSession(session('v', 'a'));
    expect([...registry.sessionsOf('u')]).toEqual([a, b]);
    expect(registry.userCount).toBe(2);
    // A stale handle with the same key does not remove the live session.
    const replaced = session('u', 'a');
    registry.removeSession(replaced, false);
    expect(registry.sessions.get('1:u/a')).toBe(a);
    registry.removeSession(a, false);
    registry.removeSession(b, true);
    expect(registry.sessionsOf('u').size).toBe(0);
    expect(registry.userCount).toBe(1);
    expect([registry.wasExpired('1:u/a'), registry.wasExpired('1:u/b')]).toEqual([false, true]);
  });

  it('remembers a bounded number of given-up sessions, forgetting the oldest', () => {
    const registry = new Registry();
    for (let i = 0; i <= 10_000; i++) registry.removeSession(session('u', `s${i}`), true);
    expect(registry.wasExpired('1:u/s0')).toBe(false);
    expect(registry.wasExpired('1:u/s1')).toBe(true);
    expect(registry.wasExpired('1:u/s10000')).toBe(true);
  });

  it('tracks connections by user and forgets users with none', () => {
    const registry = new Registry();
    const first = connection('u');
    const second = connection('u');
    registry.addConnection(first);
    registry.addConnection(second);
    expect([...registry.connectionsOf('u')]).toEqual([first, second]);
    registry.removeConnection(first);
    registry.removeConnection(second);
    expect(registry.connectionsOf('u').size).toBe(0);
    expect(registry.connections.size).toBe(0);
  });
});
