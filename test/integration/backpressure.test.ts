import { describe, expect, it } from 'vitest';
import type { Session } from '../../src/index.js';
import { type Running, type TestClient, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
let running: Running | undefined;

/** The client's TCP socket: pausing it stops reading, so the server's send buffer grows. */
function rawSocket(client: TestClient): { pause(): void; resume(): void } {
  return (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

const CHUNK = 'x'.repeat(16 * 1024);

describe('backpressure', () => {
  it('makes an awaiting producer wait while the reader is paused, and go on when it reads again', async () => {
    running = await gw.start({ highWaterMarkBytes: 64 * 1024, maxBufferedBytes: 64 * 1024 * 1024 });
    let session: Session | undefined;
    running.gateway.on('session', (s) => {
      session = s;
    });
    const client = await gw.open({ user: 'reader' });
    rawSocket(client).pause();
    let sent = 0;
    let stalled = false;
    const producer = (async () => {
      for (let i = 0; i < 2_000; i++) {
        const pending = (session as Session).send({ i, CHUNK });
        sent++;
        const settled = await Promise.race([
          pending.then(() => true),
          new Promise((r) => setTimeout(() => r(false), 200)),
        ]);
        if (!settled) {
          stalled = true;
          await pending;
        }
      }
    })();
    await until(() => stalled, 10_000, 'the producer to be held back');
    expect(session?.writable).toBe(false);
    const sentWhileStalled = sent;
    await new Promise((r) => setTimeout(r, 300));
    expect(sent).toBe(sentWhileStalled);
    rawSocket(client).resume();
    await producer;
    await client.next((f) => f.type === 'message' && f.seq === 2_000, 20_000);
    expect(client.messages().map((m) => m.seq)).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
  });

  it('closes a slow consumer with 4001 and loses nothing on resume', async () => {
    running = await gw.start({
      maxBufferedBytes: 256 * 1024,
      highWaterMarkBytes: 64 * 1024,
      replay: { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024 },
    });
    let session: Session | undefined;
    running.gateway.on('session', (s) => {
      session = s;
    });
    const client = await gw.open({ user: 'slow', session: 'slow-1' });
    rawSocket(client).pause();
    let total = 0;
    // Fire-and-forget producer: it does not await, so the buffer passes maxBufferedBytes.
    while (running.gateway.stats().detachedSessions === 0 && total < 5_000) {
      void (session as Session).send({ n: ++total, CHUNK });
      if (total % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(running.gateway.stats().detachedSessions).toBe(1);
    for (let i = 0; i < 20; i++) void (session as Session).send({ n: ++total, CHUNK });
    rawSocket(client).resume();
    const closed = await client.closed;
    expect(closed.code).toBe(4001);
    const got = client.messages();
    const lastSeen = got.length > 0 ? (got[got.length - 1]?.seq ?? 0) : 0;
    expect(lastSeen).toBeLessThan(total);
    const resumed = await gw.open({ user: 'slow', session: 'slow-1', lastSeq: lastSeen });
    expect(resumed.frames[0]).toMatchObject({ resumed: true, seq: total });
    expect(resumed.frames[0]?.resumeFailed).toBeUndefined();
    await resumed.next((f) => f.type === 'message' && f.seq === total, 20_000);
    const all = [...got, ...resumed.messages()].map((m) => m.seq);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});
