/**
 * Two gateways on one Redis, as two nodes behind a load balancer: the per-user limit holds across
 * them, and a close on one node frees the slot for the other in the close handler (I1).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { GatewayOptions } from '../../src/index.js';
import { useClusterNodes } from '../helpers/cluster.js';
import { type Running, type TestClient, until } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();
const available = redis.available;

const {
  node: startNode,
  open: openQuery,
  refusal: refuse,
} = useClusterNodes(redis, { maxConnectionsPerUser: 3 });

function node(prefix: string, failOpen = true, options: GatewayOptions = {}): Promise<Running> {
  return startNode(prefix, options, { failOpen });
}

function open(running: Running, user: string): Promise<TestClient> {
  return openQuery(running, { user });
}

function refusal(running: Running, user: string) {
  return refuse(running, { user });
}

async function refusedStatus(running: Running, user: string): Promise<number> {
  return (await refusal(running, user))?.status ?? 101;
}

describe.runIf(available)('gateways sharing one Redis', () => {
  it('hold the per-user limit across nodes and free a slot on close for the other node', async () => {
    const [a, b] = [await node('pair:'), await node('pair:')] as [Running, Running];
    const first = await open(a, 'alice');
    await open(b, 'alice');
    await open(a, 'alice');
    expect([await refusedStatus(a, 'alice'), await refusedStatus(b, 'alice')]).toEqual([429, 429]);
    // Another user is not affected.
    await open(b, 'bob');
    const client = new Redis(redis.url);
    expect(await client.zcard('pair:u:alice')).toBe(3);
    first.ws.close(1000);
    await until(() => a.gateway.stats().connections === 1, 2_000, 'node A to see the close');
    // The lease went in the close handler, not on a sweep or its 15 s TTL.
    await until(async () => (await client.zcard('pair:u:alice')) === 2, {
      timeoutMs: 500,
      intervalMs: 10,
      what: "the closed connection's lease to leave Redis",
    });
    expect(await client.zcard('pair:u:alice')).toBe(2);
    await client.quit();
    await open(b, 'alice');
    expect(await refusedStatus(b, 'alice')).toBe(429);
  });

  it('routes a publish and a disconnect asked for on one node to the user on another', async () => {
    const [a, b] = [await node('route:'), await node('route:')] as [Running, Running];
    const onB = await open(b, 'alice');
    const bobOnA = await open(a, 'bob');
    // Counts are this node's: alice has no session on A, and B delivers on its own.
    expect(a.gateway.publish({ user: 'alice' }, { hello: 'from A' })).toEqual({ delivered: 0, queued: 0 });
    const frame = await onB.next((f) => f.type === 'message', 2_000);
    expect(frame).toMatchObject({ seq: 1, data: { hello: 'from A' } });
    // Exactly once: the publishing node does not apply its own operation a second time.
    b.gateway.publish({ user: 'bob' }, 'from B');
    await bobOnA.next((f) => f.type === 'message', 2_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(bobOnA.messages()).toEqual([{ seq: 1, data: 'from B' }]);
    expect(a.gateway.disconnect({ user: 'alice' })).toBe(0);
    expect((await onB.closed).code).toBe(4103);
  });

  it('evicts the user’s oldest connection on another node (4101) with policy evict-oldest', async () => {
    const policy: GatewayOptions = { perUserPolicy: 'evict-oldest' };
    const [a, b] = [await node('evicting:', true, policy), await node('evicting:', true, policy)] as [
      Running,
      Running,
    ];
    const oldest = await open(a, 'alice');
    await open(b, 'alice');
    await open(a, 'alice');
    const newest = await open(b, 'alice');
    expect((await oldest.closed).code).toBe(4101);
    expect(newest.ws.readyState).toBe(newest.ws.OPEN);
    await until(() => a.gateway.stats().connections + b.gateway.stats().connections === 3);
  });

  it('admits a queued upgrade when a slot frees on another node (policy queue)', async () => {
    const policy: GatewayOptions = { perUserPolicy: 'queue', queueTimeoutMs: 5_000 };
    const [a, b] = [await node('queueing:', true, policy), await node('queueing:', true, policy)] as [
      Running,
      Running,
    ];
    const held = [await open(a, 'alice'), await open(a, 'alice'), await open(a, 'alice')];
    let admitted = false;
    const waiting = open(b, 'alice').then((client) => {
      admitted = true;
      return client;
    });
    await until(() => b.gateway.stats().queuedUpgrades === 1, 2_000, 'the upgrade to queue on B');
    expect(admitted).toBe(false);
    held[0]?.ws.close(1000);
    const client = await waiting;
    expect(client.frames[0]).toMatchObject({ type: 'welcome' });
    expect(b.gateway.stats().queuedUpgrades).toBe(0);
  });

  it('holds the per-user session limit across nodes, dropping the session away longest anywhere', async () => {
    const limit: GatewayOptions = { maxSessionsPerUser: 2 };
    const [a, b] = [await node('sessions:', true, limit), await node('sessions:', true, limit)] as [
      Running,
      Running,
    ];
    const away = await open(a, 'alice');
    away.ws.terminate();
    await until(() => a.gateway.stats().connections === 0, 2_000, 'node A to see the drop');
    expect(a.gateway.stats().sessions).toBe(1);
    await open(b, 'alice');
    // The third session: the one detached on A makes room for it.
    await open(b, 'alice');
    await until(() => a.gateway.stats().sessions === 0, 2_000, 'node A to drop its detached session');
    // Both left are on a socket: a fourth is refused, on either node.
    const refused = await refusal(a, 'alice');
    expect(refused?.status).toBe(429);
    expect(refused?.body).toContain('session_limit');
    expect(b.gateway.stats().sessions).toBe(2);
  });

  it('ignores a malformed operation on the routing channel and keeps routing', async () => {
    const [a, b] = [await node('junk:'), await node('junk:')] as [Running, Running];
    const onB = await open(b, 'alice');
    const client = new Redis(redis.url);
    await client.publish('junk:route', '{"from":"elsewhere","operation":{"kind":"disconnect"}}');
    await client.publish('junk:route', 'not json');
    await client.quit();
    a.gateway.publish({ user: 'alice' }, 'still here');
    expect(await onB.next((f) => f.type === 'message', 2_000)).toMatchObject({ data: 'still here' });
    expect(onB.ws.readyState).toBe(onB.ws.OPEN);
  });

  it('says so in stats and /metrics while Redis is down, keeps admitting, and recovers', async () => {
    const running = await node('outage:');
    await open(running, 'alice');
    await redis.server.stop();
    await open(running, 'alice');
    expect(running.gateway.stats().engineDegraded).toBe(true);
    expect(await running.gateway.metrics()).toMatch(/^sockwarden_engine_degraded 1$/m);
    await redis.server.start();
    await until(() => !running.gateway.stats().engineDegraded, 5_000, 'the engine to recover');
    expect(await running.gateway.metrics()).toMatch(/^sockwarden_engine_degraded 0$/m);
    const client = new Redis(redis.url);
    expect(await client.zcard('outage:u:alice')).toBe(2);
    await client.quit();
  });

  it('refuses with 503 engine_unavailable and a Retry-After while Redis is down, when set to fail closed', async () => {
    const running = await node('closed:', false);
    await open(running, 'alice');
    await redis.server.stop();
    const refused = await refusal(running, 'alice');
    expect(refused?.status).toBe(503);
    expect(JSON.parse(refused?.body ?? '{}')).toMatchObject({ error: 'engine_unavailable' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    await redis.server.start();
    await until(() => !running.gateway.stats().engineDegraded, 5_000, 'the engine to recover');
    await open(running, 'alice');
  });
});
