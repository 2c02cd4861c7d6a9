/**
 * The engine contract, run against both engines: every limit holds, atomically, and a released slot
 * is free again; the session store claims nothing no node holds, places new sessions and forgets
 * ended ones; a relay never comes back to its sender. Then what only a shared engine must do: limits across nodes, a dead node's slots
 * coming back within the lease TTL, and admission that keeps answering while Redis is down.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, EngineHost, RemoteOperation, SlotDecision, SlotLimits } from '../../src/core/engine.js';
import { memoryEngine } from '../../src/engines/memory.js';
import { type RedisEngine, redisEngine } from '../../src/engines/redis.js';
import { testEngineHost } from '../helpers/engine-host.js';
import { until } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const LIMITS: SlotLimits = { maxConnections: 5, maxConnectionsPerUser: 3, maxConnectionsPerIp: 4 };
const failures: unknown[] = [];
const transitions: boolean[] = [];
const delivered: RemoteOperation[] = [];
const host: EngineHost = testEngineHost({
  failure: (error) => void failures.push(error),
  degradedChanged: (degraded) => void transitions.push(degraded),
  deliver: (operation) => void delivered.push(operation),
});
const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  failures.length = 0;
  transitions.length = 0;
  delivered.length = 0;
});

function slot(engine: Engine, user: string, ip = '10.0.0.1', replacing = 0): Promise<SlotDecision> {
  return Promise.resolve(engine.reserve({ user, ip, replacing }));
}

function codes(decisions: SlotDecision[]): string[] {
  return decisions.map((d) => (d.ok ? 'ok' : d.code));
}

const redis = useRedis();
const redisOk = redis.available;
let prefixes = 0;

/** A Redis engine on the test's server; each test gets its own key prefix, so tests never share slots. */
async function redisNode(
  prefix: string,
  limits = LIMITS,
  leaseTtlMs = 15_000,
  failOpen = true,
  maxConnections = 0,
): Promise<RedisEngine> {
  const engine = redisEngine({
    url: redis.url,
    keyPrefix: prefix,
    leaseTtlMs,
    failOpen,
    maxConnections,
  })(limits, host) as RedisEngine;
  engines.push(engine);
  await engine.whenReady();
  return engine;
}

const kinds: Array<[string, boolean, () => Promise<() => Promise<Engine>>]> = [
  [
    'memory',
    true,
    async () => {
      const engine = memoryEngine()(LIMITS, host);
      engines.push(engine);
      // One process is one node: every "node" of the memory engine is the same counters.
      return async () => engine;
    },
  ],
  [
    'redis',
    redisOk,
    async () => {
      const prefix = `t${prefixes++}:`;
      return () => redisNode(prefix);
    },
  ],
];

describe.each(kinds)('engine contract: %s', (_name, available, nodes) => {
  it.runIf(available)('holds the per-user limit and frees a released slot', async () => {
    const node = await (await nodes())();
    const held = await Promise.all([1, 2, 3].map(() => slot(node, 'alice')));
    expect(codes(held)).toEqual(['ok', 'ok', 'ok']);
    expect(codes([await slot(node, 'alice')])).toEqual(['user_limit']);
    const first = held[0];
    if (first?.ok) {
      first.lease.release();
      first.lease.release();
    }
    expect(codes([await slot(node, 'alice'), await slot(node, 'alice')])).toEqual(['ok', 'user_limit']);
  });

  it.runIf(available)('holds the per-IP limit and the node cap', async () => {
    const node = await (await nodes())();
    const fromOneIp = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((user) => slot(node, user)));
    expect(codes(fromOneIp)).toEqual(['ok', 'ok', 'ok', 'ok', 'ip_limit']);
    expect(codes([await slot(node, 'f', '10.0.0.2'), await slot(node, 'g', '10.0.0.3')])).toEqual([
      'ok',
      'node_full',
    ]);
  });

  it.runIf(available)(
    'admits a takeover at the user limit: the replaced connection does not count',
    async () => {
      const node = await (await nodes())();
      for (let i = 0; i < 3; i++) await slot(node, 'alice');
      expect(codes([await slot(node, 'alice', '10.0.0.1', 1)])).toEqual(['ok']);
    },
  );

  it.runIf(available)('decides concurrent admissions on two nodes atomically', async () => {
    const node = await nodes();
    const [a, b] = [await node(), await node()] as [Engine, Engine];
    const decisions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => slot(i % 2 ? a : b, 'alice', `10.0.1.${i}`)),
    );
    expect(codes(decisions).filter((c) => c === 'ok')).toHaveLength(3);
    expect(codes(decisions).filter((c) => c === 'user_limit')).toHaveLength(17);
  });

  it.runIf(available)(
    'claims no session that no node holds, nor one that ended on another node',
    async () => {
      const node = await nodes();
      const [a, b] = [await node(), await node()] as [Engine, Engine];
      expect(await b.sessions.claim('alice', 'never-opened')).toBeNull();
      expect(await a.sessions.admit('alice', 's1', 2)).not.toBeNull();
      a.sessions.opened('alice', 's1', false);
      a.sessions.sent('alice', 's1', 1, '{"type":"message","seq":1,"data":1}');
      a.sessions.ended('alice', 's1', false);
      // One answered round trip of node a: Redis applies a connection's commands in order, so
      // everything it sent before is applied too.
      await a.sessions.admit('barrier', 'x', 1);
      expect(await b.sessions.claim('alice', 's1')).toBeNull();
    },
  );

  it.runIf(available)(
    'places new sessions below the user’s limit and takes a cancelled place back',
    async () => {
      const node = await (await nodes())();
      const first = await node.sessions.admit('bob', 'b1', 1);
      expect(first).not.toBeNull();
      first?.cancel();
      expect(await node.sessions.admit('bob', 'b2', 1)).not.toBeNull();
    },
  );

  it.runIf(available)('relays to other nodes only, never back to the sender', async () => {
    const node = await (await nodes())();
    node.relay({ kind: 'publish', user: 'alice', json: '1' });
    node.relay({ kind: 'disconnect', user: 'alice' });
    // Nothing may arrive, so only time can tell: well past a loopback round trip.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(delivered).toEqual([]);
  });
});

describe.runIf(redisOk)('redis engine across nodes', () => {
  it('holds a cap on connections across the whole cluster', async () => {
    const [a, b] = [
      await redisNode('cap:', LIMITS, 15_000, true, 4),
      await redisNode('cap:', LIMITS, 15_000, true, 4),
    ];
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    const decisions = await Promise.all(users.map((u, i) => slot(i % 2 ? a : b, u, `10.0.2.${i}`)));
    expect(codes(decisions).filter((c) => c === 'ok')).toHaveLength(4);
    expect(codes(decisions).filter((c) => c === 'cluster_full')).toHaveLength(2);
    const first = decisions.find((d) => d.ok);
    if (first?.ok) first.lease.release();
    expect(codes([await slot(a, 'u7', '10.0.2.9')])).toEqual(['ok']);
  });

  it('evicts the user’s oldest connection on another node and takes its slot in one step', async () => {
    const ttl = 1_500;
    const [a, b] = [await redisNode('evict:', LIMITS, ttl), await redisNode('evict:', LIMITS, ttl)];
    const revoked: number[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await slot(a, 'alice', `10.0.3.${i}`);
      if (decision.ok) decision.lease.onRevoke?.(() => revoked.push(i));
    }
    // Without eviction the limit holds; with it, the oldest (the first on A) goes.
    expect(codes([await slot(b, 'alice', '10.0.3.9')])).toEqual(['user_limit']);
    const evicting = await b.reserve({ user: 'alice', ip: '10.0.3.9', replacing: 0, evictOldest: true });
    expect(evicting.ok).toBe(true);
    await until(() => revoked.length > 0, 2_000, 'node A to be told');
    expect(revoked).toEqual([0]);
    const client = new Redis(redis.url);
    expect(await client.zcard('evict:u:alice')).toBe(3);
    // A's refresh must not bring the evicted lease back while its socket closes.
    await new Promise((r) => setTimeout(r, ttl / 3 + 300));
    expect(await client.zcard('evict:u:alice')).toBe(3);
    await client.quit();
  });

  it('frees the slots of a node killed with SIGKILL within the lease TTL and one tick', async () => {
    const prefix = 'dead:';
    const ttl = 1_500;
    const survivor = await redisNode(prefix, LIMITS, ttl);
    const child = spawn(process.execPath, [
      join(import.meta.dirname, 'fixtures/hold-leases.mjs'),
      redis.url,
      prefix,
      'alice',
      '3',
      String(ttl),
    ]);
    const deadNode = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        const match = /held (\S+)/.exec(String(d));
        if (match) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
    });
    expect(codes([await slot(survivor, 'alice', '10.0.0.2')])).toEqual(['user_limit']);
    const killedAt = Date.now();
    child.kill('SIGKILL');
    // The dead node's three leases expire one by one (each from its own last refresh); all three
    // slots must come back within the TTL + 2 s.
    let won = 0;
    await until(
      async () => {
        if ((await slot(survivor, 'alice', '10.0.0.2')).ok) won++;
        return won === 3;
      },
      {
        timeoutMs: killedAt + ttl + 2_000 - Date.now(),
        intervalMs: 50,
        what: () => `the dead node's 3 slots to come back on another node (${won} did)`,
      },
    );
    expect(won, 'slots the user got back on another node within the lease TTL + 2 s').toBe(3);
    const client = new Redis(redis.url);
    const leases = [
      ...(await client.zrange(`${prefix}leases`, 0, -1)),
      ...(await client.zrange(`${prefix}u:alice`, 0, -1)),
    ];
    await client.quit();
    expect(leases.filter((id) => id.startsWith(deadNode))).toEqual([]);
    expect(leases.length).toBeGreaterThan(0);
  });

  it('admits on local limits while Redis is down, and registers the leases again when it returns', async () => {
    const prefix = 'outage:';
    const node = await redisNode(prefix, LIMITS, 1_500);
    await slot(node, 'alice');
    await redis.server.stop();
    const during = await Promise.all([slot(node, 'alice'), slot(node, 'alice'), slot(node, 'alice')]);
    // Fail open: the node's own counts decide, and they still hold the per-user limit.
    expect(codes(during)).toEqual(['ok', 'ok', 'user_limit']);
    expect(node.degraded).toBe(true);
    await redis.server.start();
    await until(() => !node.degraded, 5_000, 'the engine to reconnect and refresh');
    const client = new Redis(redis.url);
    expect(await client.zcard(`${prefix}u:alice`)).toBe(3);
    await client.quit();
    // One failure reported for the outage, not one per admission, close or reconnect attempt.
    expect(failures).toHaveLength(1);
    expect(transitions).toEqual([true, false]);
  });

  it('refuses with engine_unavailable while Redis is down when set to fail closed', async () => {
    const node = await redisNode('closed:', LIMITS, 1_500, false);
    expect(codes([await slot(node, 'alice')])).toEqual(['ok']);
    await redis.server.stop();
    expect(codes([await slot(node, 'alice'), await slot(node, 'bob')])).toEqual([
      'engine_unavailable',
      'engine_unavailable',
    ]);
    await redis.server.start();
    await until(() => !node.degraded, 5_000, 'the engine to reconnect and refresh');
    expect(codes([await slot(node, 'alice')])).toEqual(['ok']);
    expect(transitions).toEqual([true, false]);
  });
});

describe('redisEngine options', () => {
  it('are checked when the engine is built, naming each wrong option', () => {
    expect(() => redisEngine({ url: 'http://127.0.0.1:6379' })).toThrow(
      /redisEngine option 'url': must be a redis:\/\/ or rediss:\/\/ URL/,
    );
    expect(() => redisEngine({ url: 'redis://127.0.0.1', leaseTtlMs: 10 })).toThrow(/'leaseTtlMs'/);
    expect(() => redisEngine({ url: 'redis://127.0.0.1', ttl: 5 } as never)).toThrow(/unknown option ttl/);
  });
});
