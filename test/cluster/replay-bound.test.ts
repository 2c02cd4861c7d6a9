/**
 * The Redis copy of a session is bounded like its replay ring, by messages and by bytes: a session
 * that sends far more than `replay.maxBytes` keeps a tail of about that size in Redis, acks trim it
 * without upsetting the byte count, a resume on another node gets that tail (or `too_far_behind`
 * when it asks for more, never a silent gap), and a claim reads at most the bound from Redis
 * whatever the stream holds, e.g. one written by an older node. Real redis-server.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/core/engine.js';
import { sessionKeyOf } from '../../src/core/identity.js';
import { type RedisEngine, redisEngine } from '../../src/engines/redis.js';
import { useClusterNodes } from '../helpers/cluster.js';
import { testEngineHost } from '../helpers/engine-host.js';
import { type Running, until } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();
const available = redis.available;
const { node, open } = useClusterNodes(redis);

const MiB = 1024 * 1024;

/** The sequence numbers and frames in a session's stream, oldest first, read whole (tests only). */
async function streamOf(client: Redis, key: string): Promise<Array<[number, string]>> {
  const entries = await client.xrange(key, '-', '+');
  return entries.map(([id, fields]) => [Number.parseInt(id, 10), fields[1] ?? '']);
}

function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function bytesOf(frames: Array<[number, string]>): number {
  return frames.reduce((sum, [, frame]) => sum + Buffer.byteLength(frame), 0);
}

/** A frame of exactly `size` bytes that names its sequence number. */
function frameOf(seq: number, size: number): string {
  return `${seq}:`.padEnd(size, '.');
}

describe.runIf(available)('the Redis copy of a session, bounded by messages and bytes', () => {
  const engines: Engine[] = [];
  let client: Redis | null = null;
  const redisClient = (): Redis => {
    client ??= new Redis(redis.url);
    return client;
  };
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.close();
    await client?.quit();
    client = null;
  });

  /** A Redis engine whose host lends replay bounds as the gateway does, plain timers for its wheel. */
  async function engineNode(prefix: string, maxMessages: number, maxBytes: number): Promise<RedisEngine> {
    const host = testEngineHost({
      handOver: () => ({ held: true, attached: false }),
      replay: { resumeWindowMs: 30_000, maxMessages, maxBytes },
    });
    const engine = redisEngine({ url: redis.url, keyPrefix: prefix })(
      { maxConnections: 10, maxConnectionsPerUser: 10, maxConnectionsPerIp: 10 },
      host,
    ) as RedisEngine;
    engines.push(engine);
    await engine.whenReady();
    return engine;
  }

  it('keeps about replay.maxBytes in Redis, and a resume elsewhere gets that tail or too_far_behind', async () => {
    const size = 20_000;
    const options = { replay: { maxMessages: 1_000, maxBytes: MiB }, maxBufferedBytes: 8 * MiB };
    const [a, b] = [await node('tail:', options), await node('tail:', options)] as [Running, Running];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    first.ws.terminate();
    await until(() => a.gateway.stats().connections === 0, 2_000, 'node A to see the drop');
    for (let n = 1; n <= 300; n++) a.gateway.publish({ user: 'alice' }, frameOf(n, size));
    const key = `tail:ss:${sessionKeyOf('alice', session)}`;
    const redis = redisClient();
    await until(async () => (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] === '300-0', {
      what: 'the last frame in Redis',
    });

    // 300 × 20 KB sent; Redis holds about 1 MiB of them: the newest, contiguous up to 300.
    const kept = await streamOf(redis, key);
    expect(bytesOf(kept)).toBeLessThanOrEqual(MiB);
    expect(bytesOf(kept)).toBeGreaterThan(MiB - 2 * size);
    expect(Number(await redis.call('MEMORY', 'USAGE', key))).toBeLessThan(1.25 * MiB);
    const oldest = kept[0]?.[0] ?? 0;
    expect(kept.map(([seq]) => seq)).toEqual(seqs(oldest, 300));

    // Asking for one frame more than Redis kept: too far behind, and nothing replayed.
    const behind = await open(b, { user: 'alice', session, lastSeq: oldest - 2 });
    expect(await behind.next((f) => f.type === 'welcome')).toMatchObject({
      resumed: true,
      seq: 300,
      resumeFailed: 'too_far_behind',
    });
    behind.ws.terminate();
    await until(() => b.gateway.stats().connections === 0, 2_000, 'node B to see the drop');

    // Asking for exactly what was kept, on the first node again: every kept frame, once, in order.
    const within = await open(a, { user: 'alice', session, lastSeq: oldest - 1 });
    const welcome = await within.next((f) => f.type === 'welcome');
    expect(welcome).toMatchObject({ resumed: true, seq: 300 });
    expect(welcome.resumeFailed).toBeUndefined();
    await within.next((f) => f.type === 'message' && f.seq === 300);
    expect(within.messages().map((m) => m.seq)).toEqual(seqs(oldest, 300));
    expect(within.messages().map((m) => m.data)).toEqual(seqs(oldest, 300).map((n) => frameOf(n, size)));
  });

  it('trims by bytes after acks with the count still right', async () => {
    const size = 100_000;
    const [a, b] = [await engineNode('acks:', 100, MiB), await engineNode('acks:', 100, MiB)];
    const key = `acks:ss:${sessionKeyOf('alice', 's1')}`;
    const redis = redisClient();
    const send = async (from: number, to: number) => {
      for (let seq = from; seq <= to; seq++) a.sessions.sent('alice', 's1', seq, frameOf(seq, size));
      // One answered command on node A's connection: Redis applied everything A sent before it.
      await a.sessions.admit('barrier', 'x', 1);
    };
    a.sessions.opened('alice', 's1', false);
    // 10 frames of 100,000 bytes fit in 1 MiB, 11 do not.
    await send(1, 20);
    expect((await streamOf(redis, key)).map(([seq]) => seq)).toEqual(seqs(11, 20));
    a.sessions.acked('alice', 's1', 15);
    await send(21, 25);
    expect((await streamOf(redis, key)).map(([seq]) => seq)).toEqual(seqs(16, 25));
    await send(26, 26);
    expect((await streamOf(redis, key)).map(([seq]) => seq)).toEqual(seqs(17, 26));
    a.sessions.acked('alice', 's1', 26);
    await send(27, 27);
    expect((await streamOf(redis, key)).map(([seq]) => seq)).toEqual([27]);

    const claimed = await b.sessions.claim('alice', 's1');
    claimed?.adopt();
    expect(claimed?.latestSeq).toBe(27);
    expect(claimed?.frames.map(([seq]) => seq)).toEqual([27]);
  });

  it('trims by count exactly, like the ring', async () => {
    const a = await engineNode('count:', 5, MiB);
    a.sessions.opened('alice', 's1', false);
    for (let seq = 1; seq <= 12; seq++) a.sessions.sent('alice', 's1', seq, frameOf(seq, 40));
    await a.sessions.admit('barrier', 'x', 1);
    const kept = await streamOf(redisClient(), `count:ss:${sessionKeyOf('alice', 's1')}`);
    expect(kept.map(([seq]) => seq)).toEqual(seqs(8, 12));
  });

  it('drops a frame larger than replay.maxBytes, as the ring does, and the claim says so', async () => {
    const [a, b] = [await engineNode('huge:', 100, 1_000), await engineNode('huge:', 100, 1_000)];
    a.sessions.opened('alice', 's1', false);
    a.sessions.sent('alice', 's1', 1, frameOf(1, 400));
    a.sessions.sent('alice', 's1', 2, frameOf(2, 5_000));
    await a.sessions.admit('barrier', 'x', 1);
    const claimed = await b.sessions.claim('alice', 's1');
    claimed?.adopt();
    // Nothing kept up to 2: a resume from before 2 is too far behind, not handed frame 1 alone.
    expect(claimed?.latestSeq).toBe(2);
    expect(claimed?.frames).toEqual([]);
  });

  it('reads only a bounded tail on a claim, whatever the stream holds', async () => {
    const size = 20_000;
    const maxBytes = 256 * 1024;
    const b = await engineNode('old:', 100, maxBytes);
    const redis = redisClient();
    // Streams as an older node wrote them, bounded by count only (or not at all), owned by a dead node.
    const write = async (session: string, frames: Array<[number, string]>) => {
      const key = sessionKeyOf('alice', session);
      const pipeline = redis.pipeline().set(`old:so:${key}`, 'a-node-long-gone', 'PX', 60_000);
      for (const [seq, frame] of frames) pipeline.xadd(`old:ss:${key}`, `${seq}-0`, 'f', frame);
      await pipeline.exec();
    };
    await write(
      'big',
      seqs(1, 400).map((seq) => [seq, frameOf(seq, size)]),
    );
    await write(
      'many',
      seqs(1, 400).map((seq) => [seq, frameOf(seq, 10)]),
    );
    await write(
      'holed',
      [...seqs(1, 50), ...seqs(60, 80)].map((seq) => [seq, frameOf(seq, 10)]),
    );

    const sentBytes = async () =>
      Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
    const before = await sentBytes();
    const big = await b.sessions.claim('alice', 'big');
    big?.adopt();
    // Redis sent about the bound for the claim (and little else meanwhile), not the 8 MB stream.
    expect((await sentBytes()) - before).toBeLessThan(2 * maxBytes);
    const fit = Math.floor(maxBytes / size);
    expect(big?.latestSeq).toBe(400);
    expect(big?.frames.map(([seq]) => seq)).toEqual(seqs(401 - fit, 400));
    expect(big?.frames.at(-1)?.[1]).toBe(frameOf(400, size));
    // Its first append here cuts what the older node wrote (no byte offsets to count it by): the
    // stream is bounded from then on, and this node's ring still has the tail it read.
    b.sessions.opened('alice', 'big', true);
    b.sessions.sent('alice', 'big', 401, frameOf(401, size));
    await b.sessions.admit('barrier', 'x', 1);
    const stream = `old:ss:${sessionKeyOf('alice', 'big')}`;
    expect((await streamOf(redis, stream)).map(([seq]) => seq)).toEqual([401]);

    const many = await b.sessions.claim('alice', 'many');
    many?.adopt();
    expect(many?.frames.map(([seq]) => seq)).toEqual(seqs(301, 400));

    // A hole (frames Redis missed) still cuts the run: what follows it, never a silent gap.
    const holed = await b.sessions.claim('alice', 'holed');
    holed?.adopt();
    expect(holed?.frames.map(([seq]) => seq)).toEqual(seqs(60, 80));
  });
});
