/**
 * Two gateways on one Redis, as two nodes behind a load balancer: the per-user limit holds across
 * them, and a close on one node frees the slot for the other in the close handler (I1).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisEngine } from '../../src/engines/redis.js';
import { connect, type Running, startGateway, type TestClient, until } from '../helpers/gateway.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';

const available = redisAvailable();
let redis: TestRedis | null = null;
beforeAll(async () => {
  if (available) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const nodes: Running[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.ws.terminate();
  for (const node of nodes.splice(0)) await node.stop();
});

async function node(prefix: string, failOpen = true): Promise<Running> {
  const running = await startGateway({
    maxConnectionsPerUser: 3,
    engine: redisEngine({ url: redis?.url as string, keyPrefix: prefix, failOpen }),
  });
  nodes.push(running);
  return running;
}

async function open(running: Running, user: string): Promise<TestClient> {
  const client = await connect(running.url, { user });
  clients.push(client);
  return client;
}

type Refusal = { status: number; body: string; headers: Record<string, string> };

async function refusal(running: Running, user: string): Promise<Refusal | null> {
  try {
    clients.push(await connect(running.url, { user }));
  } catch (error) {
    return error as Refusal;
  }
  return null;
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
    const client = new Redis(redis?.url as string);
    expect(await client.zcard('pair:u:alice')).toBe(3);
    first.ws.close(1000);
    await until(() => a.gateway.stats().connections === 1, 2_000, 'node A to see the close');
    // The lease went in the close handler, not on a sweep or its 15 s TTL.
    const closedAt = Date.now();
    while ((await client.zcard('pair:u:alice')) !== 2 && Date.now() - closedAt < 500) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await client.zcard('pair:u:alice')).toBe(2);
    await client.quit();
    await open(b, 'alice');
    expect(await refusedStatus(b, 'alice')).toBe(429);
  });

  it('says so in stats and /metrics while Redis is down, keeps admitting, and recovers', async () => {
    const running = await node('outage:');
    await open(running, 'alice');
    await redis?.stop();
    await open(running, 'alice');
    expect(running.gateway.stats().engineDegraded).toBe(true);
    expect(await running.gateway.metrics()).toMatch(/^sockwarden_engine_degraded 1$/m);
    await redis?.start();
    await until(() => !running.gateway.stats().engineDegraded, 5_000, 'the engine to recover');
    expect(await running.gateway.metrics()).toMatch(/^sockwarden_engine_degraded 0$/m);
    const client = new Redis(redis?.url as string);
    expect(await client.zcard('outage:u:alice')).toBe(2);
    await client.quit();
  });

  it('refuses with 503 engine_unavailable and a Retry-After while Redis is down, when set to fail closed', async () => {
    const running = await node('closed:', false);
    await open(running, 'alice');
    await redis?.stop();
    const refused = await refusal(running, 'alice');
    expect(refused?.status).toBe(503);
    expect(JSON.parse(refused?.body ?? '{}')).toMatchObject({ error: 'engine_unavailable' });
    expect(Number(refused?.headers['retry-after'])).toBeGreaterThan(0);
    await redis?.start();
    await until(() => !running.gateway.stats().engineDegraded, 5_000, 'the engine to recover');
    await open(running, 'alice');
  });
});
