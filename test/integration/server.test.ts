/** `sockwarden serve` as a user runs it: the built CLI in a child process. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, serve } from '../helpers/cli.js';
import { connect } from '../helpers/gateway.js';

/** An API key as strong as `serve` requires (16 characters at least). */
const API_KEY = 'k3y-0123456789abcdef';

describe('invalid configuration', () => {
  it.each([
    [
      ['serve', '--insecure', '--max-connections=-3'],
      /--max-connections: must be a non-negative integer \(got "-3"\)/,
    ],
    [
      ['serve', '--insecure', '--per-user-policy', 'kick'],
      /must be one of reject, evict-oldest, queue \(got "kick"\)/,
    ],
    [['serve', '--insecure', '--max-conections', '4'], /Unknown option '--max-conections'/],
    [['serve'], /no authentication configured/],
    [
      ['serve', '--insecure', '--backend-url', 'ftp://example.com/x'],
      /--backend-url: must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      ['serve', '--insecure', '--backend-events', 'connect,typing'],
      /"typing" is not an event; use connect, disconnect/,
    ],
    [['serve', '--jwt-secret', 'short'], /--jwt-secret: the JWT secret must be at least 16 characters/],
    [
      ['serve', '--insecure', '--max-connections-per-user', '0'],
      /--max-connections-per-user \(env SOCKWARDEN_MAX_CONNECTIONS_PER_USER/,
    ],
    [
      ['serve', '--insecure', '--redis', 'localhost:6379'],
      /--redis: must be a redis:\/\/ or rediss:\/\/ URL/,
    ],
    [
      ['serve', '--insecure', '--redis-fail', 'maybe'],
      /--redis-fail: must be one of open, closed \(got "maybe"\)/,
    ],
    [['serve', '--insecure', '--log-level', 'loud'], /--log-level: must be one of trace, debug/],
    [['serve', '--insecure', '--workers', '0'], /--workers \(env SOCKWARDEN_WORKERS.*must be at least 1/],
    [
      ['serve', '--insecure', '--redis', 'redis://127.0.0.1:1', '--redis-lease-ttl', '200'],
      /--redis-lease-ttl .*must be at least 1000 ms \(got 200\)/,
    ],
  ])('exits 2 and names the problem: %s', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('reads the same names from the environment and a config file, flag > env > file', async () => {
    const file = join(tmpdir(), `sockwarden-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ perUserPolicy: 'sideways' }));
    expect((await run(['serve', '--insecure', '--config', file])).stderr).toMatch(
      /config key "perUserPolicy": must be one of/,
    );
    expect(
      (await run(['serve', '--insecure', '--config', file], { SOCKWARDEN_PER_USER_POLICY: 'bad' })).stderr,
    ).toMatch(/SOCKWARDEN_PER_USER_POLICY: must be one of/);
    writeFileSync(file, JSON.stringify({ maxConnectionz: 1 }));
    const unknown = await run(['serve', '--insecure', '--config', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown key "maxConnectionz"/);
  });

  it('lists every flag with its default in --help', async () => {
    const result = await run(['serve', '--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--max-connections-per-user',
      '--per-user-policy',
      '--heartbeat-interval',
      '--drain-timeout',
      '--api-key',
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toMatch(/--heartbeat-interval\s+.*\(default: 25000\)/);
  });
});

describe('sockwarden serve', () => {
  it('serves health, metrics and the API, validates bodies, and drains to exit 0 on SIGTERM', async () => {
    const { child, base, exited } = await serve(['--insecure', '--api-key', API_KEY]);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...init.headers },
      });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/api/stats`)).status).toBe(401);
    expect((await api('/api/stats', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);

    const client = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'alice', session: 'chat-1' });
    const bad = async (body: string, field: string) => {
      const res = await api('/api/publish', { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_request', field });
    };
    await bad('{"user":"alice"}', 'data');
    await bad('{"user":7,"data":1}', 'user');
    await bad('{"user":"alice","session":"bad id!","data":1}', 'session');
    await bad('{"user":"alice","data":1,"extra":true}', 'extra');
    await bad('not json', 'body');
    expect(client.messages()).toEqual([]);

    const published = await api('/api/publish', {
      method: 'POST',
      body: JSON.stringify({ user: 'alice', data: { text: 'hi' } }),
    });
    expect(await published.json()).toEqual({ delivered: 1, queued: 0 });
    expect(await client.next((f) => f.type === 'message')).toMatchObject({ seq: 1, data: { text: 'hi' } });
    const sessions = await (await api('/api/sessions?user=alice')).json();
    expect(sessions).toEqual({ user: 'alice', sessions: [{ id: 'chat-1', connected: true, seq: 1 }] });
    expect((await api('/api/sessions')).status).toBe(400);
    expect((await api('/api/publish')).status).toBe(405);
    expect((await api('/api/nothing')).status).toBe(404);
    const stats = await (await api('/api/stats')).json();
    expect(stats).toMatchObject({ connections: 1, sessions: 1, users: 1, pressure: 'ok' });
    expect(stats.resources).toMatchObject({ connection: 1, session: 1 });

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/sockwarden_connections 1/);
    expect(metrics).toMatch(/sockwarden_admissions_total\{outcome="admitted"\} 1/);

    const disconnected = await api('/api/disconnect', {
      method: 'POST',
      body: JSON.stringify({ user: 'alice' }),
    });
    expect(await disconnected.json()).toEqual({ disconnected: 1 });
    expect((await client.closed).code).toBe(4103);

    const second = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'bob' });
    child.kill('SIGTERM');
    expect((await second.closed).code).toBe(1012);
    expect(await exited).toBe(0);
  });

  it('runs a garbage collection on POST /api/gc and reports memory before and after', async () => {
    const { base } = await serve(['--insecure', '--api-key', API_KEY]);
    const gc = (key = API_KEY, method = 'POST') =>
      fetch(`${base}/api/gc`, { method, headers: { authorization: `Bearer ${key}` } });
    expect((await gc('wrong')).status).toBe(401);
    expect((await gc(API_KEY, 'GET')).status).toBe(405);
    // Garbage the collection has to find: parsed bodies of publishes to nobody.
    const text = 'x'.repeat(20_000);
    for (let i = 0; i < 50; i++) {
      await fetch(`${base}/api/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user: `nobody-${i}`, data: { text } }),
      });
    }
    const answer = await gc();
    expect(answer.status).toBe(200);
    const result = await answer.json();
    expect(result.after.heapUsedBytes).toBeLessThan(result.before.heapUsedBytes);
    expect(result.after.rssBytes).toBeGreaterThan(0);
    expect(result.tookMs).toBeGreaterThan(0);
  });

  it('exits 1 at once on a second SIGTERM instead of finishing the drain', async () => {
    // Close and drain timeouts past the test's own: only a server that really exits at once lets it pass.
    const { child, base, exited } = await serve([
      '--insecure',
      '--close-timeout',
      '60000',
      '--drain-timeout',
      '60000',
    ]);
    const stubborn = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'alice' });
    // It never reads the close frame, so the drain would wait for the whole timeout.
    (stubborn.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
  });

  it('keeps the API open to loopback in --insecure mode without a key', async () => {
    const { base } = await serve(['--insecure']);
    expect((await fetch(`${base}/api/stats`)).status).toBe(200);
  });
});
