/**
 * Behind a proxy, through real sockets from 127.0.0.1: per-IP limits, logs and the raw-socket cap
 * follow the forwarded client address when the peer is trusted, and the peer when it is not (a
 * spoofed header changes nothing); IPv6 clients in one /64 share a limit; 0 turns the per-IP
 * limits off, in the library, in `serve` and in the Redis engine's script.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { redisEngine } from '../../src/engines/redis.js';
import type { GatewayOptions } from '../../src/index.js';
import { run, serve } from '../helpers/cli.js';
import { testEngineHost } from '../helpers/engine-host.js';
import { connect, type TestClient, until, useGateway } from '../helpers/gateway.js';
import { useRedis } from '../helpers/redis.js';

const gw = useGateway();
const redis = useRedis();

type Refusal = Error & { status: number; body: string };

/** Opens a client that says it forwards for `headers`; resolves with its welcome or its refusal code. */
async function attempt(url: string, user: string, headers: Record<string, string>): Promise<string> {
  try {
    gw.track(await connect(url, { user }, { headers }));
    return 'ok';
  } catch (error) {
    return (JSON.parse((error as Refusal).body) as { error: string }).error;
  }
}

const xff = (value: string) => ({ 'x-forwarded-for': value });

async function start(options: GatewayOptions) {
  return gw.start(options);
}

describe('trusted proxy', () => {
  it('counts per-IP connections by the forwarded address when the peer is trusted', async () => {
    const { url } = await start({ trustProxy: ['127.0.0.1'], maxConnectionsPerIp: 1 });
    expect(await attempt(url, 'a', xff('203.0.113.1'))).toBe('ok');
    expect(await attempt(url, 'b', xff('203.0.113.2'))).toBe('ok');
    expect(await attempt(url, 'c', xff('6.6.6.6, 203.0.113.1'))).toBe('ip_limit');
  });

  it('limits the connect rate by the forwarded address', async () => {
    const { url } = await start({
      trustProxy: ['127.0.0.0/8'],
      connectRatePerIp: { perSecond: 1, burst: 1 },
    });
    expect(await attempt(url, 'a', xff('203.0.113.1'))).toBe('ok');
    expect(await attempt(url, 'b', xff('203.0.113.2'))).toBe('ok');
    expect(await attempt(url, 'c', xff('203.0.113.1'))).toBe('connect_rate_limited');
  });

  it('ignores the headers of a peer it does not trust: spoofing changes nothing', async () => {
    const { url } = await start({ trustProxy: ['10.0.0.0/8'], maxConnectionsPerIp: 1 });
    expect(await attempt(url, 'a', xff('203.0.113.1'))).toBe('ok');
    expect(await attempt(url, 'b', xff('203.0.113.2'))).toBe('ip_limit');
    expect(await attempt(url, 'c', { forwarded: 'for=203.0.113.3' })).toBe('ip_limit');
  });

  it('is off by default', async () => {
    const { url } = await start({ maxConnectionsPerIp: 1 });
    expect(await attempt(url, 'a', xff('203.0.113.1'))).toBe('ok');
    expect(await attempt(url, 'b', xff('203.0.113.2'))).toBe('ip_limit');
  });

  it('takes the Nth hop from the right with a hop count', async () => {
    const { url } = await start({ trustProxy: 2, maxConnectionsPerIp: 1 });
    expect(await attempt(url, 'a', xff('6.6.6.6, 203.0.113.1, 10.0.0.9'))).toBe('ok');
    expect(await attempt(url, 'b', xff('6.6.6.6, 203.0.113.2, 10.0.0.9'))).toBe('ok');
    expect(await attempt(url, 'c', xff('7.7.7.7, 203.0.113.1, 10.0.0.9'))).toBe('ip_limit');
  });

  it('groups IPv6 clients by /64 from RFC 7239 Forwarded, and by the prefix it is given', async () => {
    const { url } = await start({ trustProxy: ['127.0.0.1'], maxConnectionsPerIp: 1 });
    const forwarded = (value: string) => ({ forwarded: value });
    expect(await attempt(url, 'a', forwarded('for="[2001:db8::1]:1234"'))).toBe('ok');
    expect(await attempt(url, 'b', forwarded('for="[2001:db8::ffff:2]"'))).toBe('ip_limit');
    expect(await attempt(url, 'c', forwarded('for="[2001:db8:0:1::1]:80";proto=https'))).toBe('ok');
    const wide = await start({ trustProxy: ['127.0.0.1'], maxConnectionsPerIp: 1, ipv6PrefixLength: 48 });
    expect(await attempt(wide.url, 'a', forwarded('for="[2001:db8:0:1::1]"'))).toBe('ok');
    expect(await attempt(wide.url, 'b', forwarded('for="[2001:db8:0:2::1]"'))).toBe('ip_limit');
  });

  it('logs the forwarded address in the ip of every line about the connection', async () => {
    const lines: Array<{ ip?: string; msg: string }> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const { url, gateway } = await start({
      trustProxy: ['127.0.0.1'],
      logger: pino({ level: 'debug' }, stream),
      maxConnectionsPerIp: 1,
    });
    await attempt(url, 'a', xff('[2001:db8::7]:99'));
    await attempt(url, 'b', xff('2001:db8::8'));
    await until(() => lines.some((l) => l.msg.startsWith('upgrade refused')), 2_000, 'the refusal logged');
    const withIp = lines.filter((l) => l.ip !== undefined);
    expect(withIp.length).toBeGreaterThanOrEqual(3);
    expect(new Set(withIp.map((l) => l.ip))).toEqual(new Set(['2001:db8::7', '2001:db8::8']));
    expect(gateway.stats().connections).toBe(1);
  });
});

/** Opens idle TCP sockets to `port`; each records whether the server closed it. */
async function idleSockets(port: number, count: number): Promise<Array<{ socket: Socket; closed: boolean }>> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ socket: Socket; closed: boolean }>((resolve, reject) => {
          const entry = { socket: tcpConnect({ port, host: '127.0.0.1' }), closed: false };
          entry.socket.on('close', () => {
            entry.closed = true;
          });
          entry.socket.once('connect', () => resolve(entry));
          entry.socket.once('error', reject);
        }),
    ),
  );
}

describe('the raw-socket cap behind a proxy', () => {
  it.each([
    ['a trusted CIDR', { trustProxy: ['127.0.0.0/8'] }, 0],
    ['a hop count', { trustProxy: 1 }, 0],
    ['an untrusted peer', { trustProxy: ['10.0.0.0/8'] }, 3],
  ] satisfies Array<[string, GatewayOptions, number]>)(
    'from %s, the right sockets past the cap are closed',
    async (_name, options, refused) => {
      const running = await start({ ...options, maxSocketsPerIp: 3 });
      const sockets = await idleSockets(running.port, 6);
      try {
        // The refusals come at once; give a wrong refusal the same time to show.
        await new Promise((r) => setTimeout(r, 200));
        expect(sockets.filter((s) => s.closed)).toHaveLength(refused);
      } finally {
        for (const { socket } of sockets) socket.destroy();
      }
    },
  );
});

describe('0 turns the per-IP limits off', () => {
  it('in the library: connections per IP and the connect rate', async () => {
    const { url, gateway } = await start({
      maxConnectionsPerIp: 0,
      connectRatePerIp: { perSecond: 0, burst: 1 },
    });
    const clients: TestClient[] = [];
    for (let i = 0; i < 5; i++) clients.push(gw.track(await connect(url, { user: `u${i}` })));
    expect(gateway.stats().connections).toBe(5);
  });

  it('in serve, which accepts 0 for both flags', async () => {
    const server = await serve([
      '--insecure',
      '--max-connections-per-ip',
      '0',
      '--connect-rate-per-ip',
      '0',
      '--connect-burst-per-ip',
      '1',
    ]);
    const url = `${server.base.replace('http', 'ws')}/ws`;
    for (let i = 0; i < 4; i++) gw.track(await connect(url, { user: `u${i}` }));
  });

  it.runIf(redis.available)('in the Redis engine: the script skips the per-IP check', async () => {
    const limits = { maxConnections: 10, maxConnectionsPerUser: 10, maxConnectionsPerIp: 0 };
    const engine = redisEngine({ url: redis.url, keyPrefix: 'tp0:' })(limits, testEngineHost({}));
    try {
      const decisions = [];
      for (let i = 0; i < 4; i++)
        decisions.push(await engine.reserve({ user: `u${i}`, ip: '10.0.0.1', replacing: 0 }));
      expect(decisions.map((d) => d.ok)).toEqual([true, true, true, true]);
    } finally {
      await engine.close();
    }
  });
});

describe('serve --trust-proxy', () => {
  it.each([
    [['--trust-proxy', 'nginx']],
    [['--trust-proxy', '10.0.0.0/8,10.0.0.0/99']],
    [['--trust-proxy=-1']],
  ])('exits 2 naming the flag, its variable, its file key and what it takes: %s', async (args) => {
    const result = await run(['serve', '--insecure', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--trust-proxy \(env SOCKWARDEN_TRUST_PROXY, config key "trustProxy"\)/);
    expect(result.stderr).toMatch(/list of CIDRs .* or a hop count/);
  });

  it('trusts the proxies it is given', async () => {
    const server = await serve(['--insecure', '--trust-proxy', '127.0.0.1', '--max-connections-per-ip', '1']);
    const url = `${server.base.replace('http', 'ws')}/ws`;
    expect(await attempt(url, 'a', xff('203.0.113.1'))).toBe('ok');
    expect(await attempt(url, 'b', xff('203.0.113.2'))).toBe('ok');
    expect(await attempt(url, 'c', xff('203.0.113.1'))).toBe('ip_limit');
  });
});
