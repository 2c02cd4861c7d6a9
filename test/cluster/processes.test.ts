/**
 * The cluster as users run it: three `sockwarden serve --redis` processes on one redis-server (and
 * one `--workers 2`), driven through their sockets and HTTP APIs. Limits hold across nodes, publish
 * and resume cross nodes, a SIGKILLed node's slots come back within the lease TTL and two seconds,
 * and an outage of Redis crashes nothing.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { run, serve } from '../helpers/cli.js';
import { connect, type TestClient } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';
import { until } from '../helpers/until.js';

const redis = useRedis();
const available = redis.available;

const clients: TestClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.ws.terminate();
});

interface Node {
  child: ChildProcess;
  stderr: () => string;
  base: string;
  ws: string;
  exited: Promise<number | null>;
}

const LEASE_TTL_MS = 3_000;

async function nodes(prefix: string, count: number, extra: string[] = []): Promise<Node[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const started = await serve([
        '--insecure',
        '--redis',
        redis.url,
        '--redis-prefix',
        prefix,
        '--redis-lease-ttl',
        String(LEASE_TTL_MS),
        '--max-connections-per-user',
        '3',
        ...extra,
      ]);
      return { ...started, ws: `${started.base.replace('http', 'ws')}/ws` };
    }),
  );
}

async function open(node: Node, query: Record<string, string | number>): Promise<TestClient> {
  const client = await connect(node.ws, query);
  clients.push(client);
  return client;
}

async function attempt(node: Node, user: string): Promise<number> {
  try {
    await open(node, { user });
    return 101;
  } catch (error) {
    return (error as { status?: number }).status ?? 0;
  }
}

async function api(node: Node, path: string, body: unknown): Promise<Response> {
  return fetch(`${node.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function stats(node: Node): Promise<{ connections: number; engine: string; engineDegraded: boolean }> {
  return (await fetch(`${node.base}/api/stats`)).json() as Promise<{
    connections: number;
    engine: string;
    engineDegraded: boolean;
  }>;
}

describe.runIf(available)('sockwarden serve processes on one Redis', () => {
  it('hold a per-user limit of 3 when a user connects to all three nodes at once', async () => {
    const three = await nodes('limit:', 3);
    expect((await stats(three[0] as Node)).engine).toBe('redis');
    const outcomes = await Promise.all(three.flatMap((node) => [1, 2, 3].map(() => attempt(node, 'alice'))));
    expect(outcomes.filter((s) => s === 101)).toHaveLength(3);
    expect(outcomes.filter((s) => s === 429)).toHaveLength(6);
    const counts = await Promise.all(three.map(async (node) => (await stats(node)).connections));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('publish through one node reaches the user on another; resume and takeover cross nodes', async () => {
    const [a, b, c] = (await nodes('cross:', 3)) as [Node, Node, Node];
    const first = await open(a, { user: 'alice' });
    const session = (await first.next((f) => f.type === 'welcome')).session as string;
    expect(await (await api(c, '/api/publish', { user: 'alice', data: 'via C' })).json()).toEqual({
      delivered: 0,
      queued: 0,
    });
    expect(await first.next((f) => f.type === 'message')).toMatchObject({ seq: 1, data: 'via C' });
    first.ws.terminate();
    await until(async () => (await stats(a)).connections === 0, {
      timeoutMs: 2_000,
      intervalMs: 50,
      what: 'node A to see the drop',
    });
    for (const data of ['missed 2', 'missed 3']) await api(b, '/api/publish', { user: 'alice', data });
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await open(c, { user: 'alice', session, lastSeq: 1 });
    expect(resumed.frames[0]).toMatchObject({ type: 'welcome', resumed: true, seq: 3 });
    await resumed.next((f) => f.type === 'message' && f.seq === 3);
    expect(resumed.messages()).toEqual([
      { seq: 2, data: 'missed 2' },
      { seq: 3, data: 'missed 3' },
    ]);
    // Takeover: the same session opened on B closes C's socket with 4100.
    const taking = await open(b, { user: 'alice', session, lastSeq: 3 });
    expect((await resumed.closed).code).toBe(4100);
    expect(taking.frames[0]).toMatchObject({ type: 'welcome', resumed: true, seq: 3 });
    await api(a, '/api/publish', { user: 'alice', data: 'after' });
    expect(await taking.next((f) => f.type === 'message')).toMatchObject({ seq: 4, data: 'after' });
  });

  it('frees a SIGKILLed node’s slots within the lease TTL and 2 s, and Redis keeps none of its leases', async () => {
    const [a, b] = (await nodes('kill:', 2)) as [Node, Node];
    for (let i = 0; i < 3; i++) await open(a, { user: 'alice' });
    expect(await attempt(b, 'alice')).toBe(429);
    const client = new Redis(redis.url);
    const deadNode = (await client.zrange('kill:u:alice', 0, -1)).map((id) => id.split(':')[0]);
    expect(new Set(deadNode).size).toBe(1);
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    // Timed by when the winning attempt started: on a loaded machine the handshake itself may be slow.
    let attemptedAt = 0;
    let status = 0;
    await until(
      async () => {
        attemptedAt = Date.now();
        status = await attempt(b, 'alice');
        return status === 101;
      },
      {
        timeoutMs: killedAt + 15_000 - Date.now(),
        intervalMs: 100,
        what: () => `a slot for alice on node B, 15 s after the kill (last status ${status})`,
      },
    );
    expect(status).toBe(101);
    expect(attemptedAt - killedAt).toBeLessThanOrEqual(LEASE_TTL_MS + 2_000);
    // Not before the TTL: the dead node's slots were held for the lease's life, not dropped early.
    expect(attemptedAt - killedAt).toBeGreaterThan(LEASE_TTL_MS / 3);
    // Each of the dead node's leases expires from its own last refresh (one reserved after the last
    // refresh lives a little longer); within the TTL and 2 s none is left, and the survivor's own
    // refresh has swept the expired members out of the sets.
    const dead = `${deadNode[0]}:`;
    const leftovers = async () =>
      [
        ...(await client.zrange('kill:leases', 0, -1)),
        ...(await client.zrange('kill:u:alice', 0, -1)),
        ...(await client.keys(`kill:node:${deadNode[0]}`)),
      ].filter((id) => id.startsWith(dead) || id.endsWith(deadNode[0] as string));
    let left: string[] = [];
    await until(
      async () => {
        left = await leftovers();
        return left.length === 0;
      },
      {
        timeoutMs: killedAt + LEASE_TTL_MS + 2_000 + LEASE_TTL_MS / 3 - Date.now(),
        intervalMs: 100,
        what: () => `the dead node's leases to leave Redis (left: ${left.join(', ')})`,
      },
    );
    expect(await leftovers()).toEqual([]);
    await client.quit();
  });

  it('keeps serving on local limits while redis-server is down, and reconciles when it is back', async () => {
    const [a, b] = (await nodes('outage:', 2)) as [Node, Node];
    await open(a, { user: 'alice' });
    await redis.server.stop();
    // Degraded: each node admits on its own limits, so alice gets 3 per node.
    for (let i = 0; i < 3; i++) await open(b, { user: 'alice' });
    expect((await stats(b)).engineDegraded).toBe(true);
    expect(await (await fetch(`${b.base}/metrics`)).text()).toMatch(/^sockwarden_engine_degraded 1$/m);
    await redis.server.start();
    for (const node of [a, b]) {
      await until(async () => !(await stats(node)).engineDegraded, {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: 'the node to recover',
      });
    }
    const client = new Redis(redis.url);
    await until(async () => (await client.zcard('outage:u:alice')) === 4, {
      timeoutMs: 5_000,
      intervalMs: 50,
      what: 'leases to be registered again',
    });
    await client.quit();
    // Reconciled: the cluster limit applies again, with 4 held.
    expect(await attempt(a, 'alice')).toBe(429);
    clients.at(-1)?.ws.close(1000);
    expect(
      await Promise.race([a.exited, b.exited, new Promise((r) => setTimeout(() => r('running'), 100))]),
    ).toBe('running');
  });

  it('runs --workers 2 as one gateway on one port, and drains both on SIGTERM', async () => {
    const [cluster] = (await nodes('workers:', 1, ['--workers', '2', '--drain-timeout', '1000'])) as [Node];
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push(await attempt(cluster, 'alice'));
    expect(outcomes.filter((s) => s === 101)).toHaveLength(3);
    cluster.child.kill('SIGTERM');
    expect(await cluster.exited).toBe(0);
  });

  it('drains --workers once on a Ctrl-C, which reaches the workers as well as the primary', async () => {
    const [cluster] = (await nodes('ctrl-c:', 1, ['--workers', '2', '--drain-timeout', '4000'])) as [Node];
    await attempt(cluster, 'alice');
    const workers = execFileSync('pgrep', ['-P', String(cluster.child.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    expect(workers).toHaveLength(2);
    // As a terminal does: the whole process group, workers included. Here the workers get it after
    // their primary told them to drain, the order in which a worker could mistake it for a second
    // Ctrl-C and cut its own drain short.
    cluster.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // A worker with nothing to hold may have finished its drain already.
      }
    }
    expect(await cluster.exited).toBe(0);
    expect(cluster.stderr()).not.toContain('without finishing the drain');
  });

  it('exits 1, at once, when a worker is told to stop twice during the drain', async () => {
    // Close and drain timeouts past the test's own: only a worker that really exits at once lets it pass.
    const [cluster] = (await nodes('cut-drain:', 1, [
      '--workers',
      '2',
      '--close-timeout',
      '60000',
      '--drain-timeout',
      '60000',
    ])) as [Node];
    const stubborn = await open(cluster, { user: 'alice' });
    const socket = (stubborn.ws as unknown as { _socket: { localPort: number; pause(): void } })._socket;
    // It never reads the close frame, so the worker holding it would drain for the whole timeout.
    socket.pause();
    const port = new URL(cluster.base).port;
    const holder = Number(
      /pid=(\d+)/.exec(
        execFileSync(
          'ss',
          ['-tnpH', 'state', 'established', `( sport = :${port} and dport = :${socket.localPort} )`],
          { encoding: 'utf8' },
        ),
      )?.[1],
    );
    const workers = execFileSync('pgrep', ['-P', String(cluster.child.pid)], { encoding: 'utf8' });
    expect(workers.split('\n').map(Number)).toContain(holder);
    cluster.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // The primary's drain message was the first; this is the worker's second. The other worker has
    // drained cleanly by now, so the cluster's exit code is this worker's.
    process.kill(holder, 'SIGTERM');
    expect(await cluster.exited).toBe(1);
    expect(cluster.stderr()).toContain('without finishing the drain');
  });

  it('exits 2 once for a bad option with --workers, and 1 when the port is taken, with or without', async () => {
    const url = redis.url;
    const bad = await run([
      'serve',
      '--insecure',
      '--workers',
      '2',
      '--redis',
      url,
      '--heartbeat-interval',
      '1000',
      '--pong-timeout',
      '1000',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.match(/invalid configuration/g)).toHaveLength(1);
    const [taken] = (await nodes('taken:', 1)) as [Node];
    const port = new URL(taken.base).port;
    const busy = await run(['serve', '--insecure', '--workers', '2', '--redis', url, '--port', port]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/EADDRINUSE/);
    expect(busy.stderr).toContain('a worker failed to start');
    // Each worker exits with its own code, 1, having let go of its Redis connection.
    expect(busy.stderr).toMatch(/"code":1,"signal":null,"msg":"worker exited on its own"/);
    // One process alone, too, exits instead of hanging on its Redis connection.
    const alone = await run(['serve', '--insecure', '--redis', url, '--port', port]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/EADDRINUSE/);
  });

  it('takes the Redis URL from SOCKWARDEN_REDIS too', async () => {
    const { base } = await serve(['--insecure'], {
      SOCKWARDEN_REDIS: redis.url,
      SOCKWARDEN_REDIS_PREFIX: 'env:',
    });
    const figures = (await (await fetch(`${base}/api/stats`)).json()) as { engine: string };
    expect(figures.engine).toBe('redis');
  });

  it('refuses --workers without --redis, naming the flag', async () => {
    const result = await run(['serve', '--insecure', '--workers', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--workers');
    expect(result.stderr).toContain('need --redis');
  });
});
