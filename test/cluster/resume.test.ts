/**
 * Resume across nodes (invariant I6 in a cluster): a client that drops on one node and reconnects to
 * another gets exactly the messages it missed, and the old node lets go of the session (4100 for a
 * socket still open there). Gateways share one real redis-server.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { useClusterNodes } from '../helpers/cluster.js';
import { type Running, type TestClient, until } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();
const available = redis.available;

const { node, open } = useClusterNodes(redis);

function lastSeq(client: TestClient): number {
  return client.messages().at(-1)?.seq ?? 0;
}

async function dropped(client: TestClient, node: Running): Promise<void> {
  const before = node.gateway.stats().connections;
  client.ws.terminate();
  await until(() => node.gateway.stats().connections === before - 1, 2_000, 'the node to see the drop');
}

describe.runIf(available)('resume across nodes', () => {
  it('replays exactly the missed messages on another node, and the old node lets the session go', async () => {
    const [a, b] = [await node('move:'), await node('move:')] as [Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    for (const n of [1, 2, 3]) a.gateway.publish({ user: 'alice' }, { n });
    await first.next((f) => f.type === 'message' && f.seq === 3);
    first.send({ type: 'ack', seq: 2 });
    await dropped(first, a);
    // Missed while away, published on either node.
    b.gateway.publish({ user: 'alice' }, { n: 4 });
    await until(() => a.gateway.sessions('alice')[0]?.seq === 4, 2_000, 'node A to queue the routed one');
    a.gateway.publish({ user: 'alice' }, { n: 5 });

    const second = await open(b, { user: 'alice', session, lastSeq: 3 });
    const welcome = await second.next((f) => f.type === 'welcome');
    expect(welcome).toMatchObject({ session, resumed: true, seq: 5 });
    await second.next((f) => f.type === 'message' && f.seq === 5);
    expect(second.messages()).toEqual([
      { seq: 4, data: { n: 4 } },
      { seq: 5, data: { n: 5 } },
    ]);
    await until(() => a.gateway.stats().sessions === 0, 2_000, 'node A to hand the session over');
    // The session lives on B now: a publish anywhere reaches it once, numbered after the replay.
    a.gateway.publish({ user: 'alice' }, { n: 6 });
    await second.next((f) => f.type === 'message' && f.seq === 6);
    await new Promise((r) => setTimeout(r, 100));
    expect(second.messages().map((m) => m.seq)).toEqual([4, 5, 6]);
  });

  it('takes over a socket still open on another node with 4100', async () => {
    const [a, b] = [await node('take:'), await node('take:')] as [Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    a.gateway.publish({ user: 'alice' }, 'one');
    await first.next((f) => f.type === 'message');
    const second = await open(b, { user: 'alice', session, lastSeq: 0 });
    expect((await first.closed).code).toBe(4100);
    expect(await second.next((f) => f.type === 'welcome')).toMatchObject({ resumed: true, seq: 1 });
    expect(second.messages()).toEqual([{ seq: 1, data: 'one' }]);
    await until(() => a.gateway.stats().connections === 0 && a.gateway.stats().sessions === 0);
    // A replaced socket does not count against the user's limit, on either node.
    expect(b.gateway.stats().connections).toBe(1);
  });

  it('loses and repeats nothing when publishes from three nodes race the move', async () => {
    // A ring large enough for everything sent while the client is away: this is about the move.
    const roomy = { replay: { maxMessages: 50_000, maxBytes: 64 * 1024 * 1024 } };
    const [a, b, c] = [
      await node('race:', roomy),
      await node('race:', roomy),
      await node('race:', roomy),
    ] as [Running, Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    const sent: string[] = [];
    let publishing = true;
    const publishers = [a, b, c].map(async (running, i) => {
      // Bursts, so that publishes are in flight on every node at the moment of the claim.
      for (let n = 0; publishing && n < 4_000; ) {
        for (const end = n + 10; n < end; n++) {
          const id = `${i}:${n}`;
          sent.push(id);
          running.gateway.publish({ user: 'alice' }, id);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    });
    await new Promise((r) => setTimeout(r, 150));
    first.ws.terminate();
    const upTo = lastSeq(first);
    const second = await open(b, { user: 'alice', session, lastSeq: upTo });
    await new Promise((r) => setTimeout(r, 150));
    publishing = false;
    await Promise.all(publishers);
    const expected = sent.length;
    expect(second.frames[0]).toMatchObject({ type: 'welcome', resumed: true });
    expect(second.frames[0]?.resumeFailed).toBeUndefined();
    await until(() => second.messages().length + upTo >= expected, 5_000, 'every message to arrive');
    await new Promise((r) => setTimeout(r, 200));
    const received = [...first.messages().filter((m) => m.seq <= upTo), ...second.messages()];
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    expect(new Set(received.map((m) => m.data)).size).toBe(expected);
    expect(received.map((m) => m.data).sort()).toEqual([...sent].sort());
  });

  it('holds sessions while draining until their clients resume on another node, losing nothing', async () => {
    const [a, b] = [await node('drain:'), await node('drain:')] as [Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    a.gateway.publish({ user: 'alice' }, 'before');
    await first.next((f) => f.type === 'message');
    let drained = false;
    const draining = a.gateway.close({ drainMs: 20_000 }).then(() => {
      drained = true;
    });
    expect((await first.closed).code).toBe(1012);
    // After the socket closed and before the client is back: the draining node still holds it.
    b.gateway.publish({ user: 'alice' }, 'meanwhile');
    await until(() => a.gateway.stats().sessions === 1 && a.gateway.sessions('alice')[0]?.seq === 2);
    expect(drained).toBe(false);
    const second = await open(b, { user: 'alice', session, lastSeq: 1 });
    expect(await second.next((f) => f.type === 'welcome')).toMatchObject({ resumed: true, seq: 2 });
    expect(second.messages()).toEqual([{ seq: 2, data: 'meanwhile' }]);
    // The last session went to B, so the drain ends long before its 20 s.
    await draining;
  });

  it('forgets a session in Redis when it ends, and answers a late resume elsewhere as unknown', async () => {
    const [a, b] = [await node('end:'), await node('end:')] as [Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    a.gateway.publish({ user: 'alice' }, 'one');
    await first.next((f) => f.type === 'message');
    first.ws.close(1000);
    await until(() => a.gateway.stats().sessions === 0, 2_000, 'the session to end');
    const client = new Redis(redis.url);
    await until(() => true);
    const keys = async () => (await client.keys('end:s*')).length;
    await until(async () => (await keys()) === 0, {
      timeoutMs: 1_000,
      intervalMs: 10,
      what: "the ended session's keys to leave Redis",
    });
    expect(await client.keys('end:s*')).toEqual([]);
    await client.quit();
    const second = await open(b, { user: 'alice', session, lastSeq: 1 });
    expect(await second.next((f) => f.type === 'welcome')).toMatchObject({
      resumed: false,
      resumeFailed: 'unknown',
    });
  });
});
