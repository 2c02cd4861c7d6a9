/**
 * The API key against guessing: a strong key is required at startup, wrong keys are throttled per
 * address, the dashboard signs in by POST only, and its cookie expires.
 */
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ApiKeyGuard } from '../../src/server/api-access.js';
import { authorizeDashboard, DASHBOARD_COOKIE_MAX_AGE_S, signIn } from '../../src/server/dashboard-access.js';
import { run, serve } from '../helpers/cli.js';
import { signInForm as form } from '../helpers/dashboard-sign-in.js';

const KEY = 'a-strong-api-key-0123456789';

describe('API key strength', () => {
  it.each([
    [['--api-key', 'k3y'], {}],
    [[], { SOCKWARDEN_API_KEY: 'fifteen-chars!!' }],
  ])(
    'refuses a key under 16 characters at startup (%s %s), naming the flag, variable and file key',
    async (args, env) => {
      const result = await run(['serve', '--insecure', ...args], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /--api-key \(env SOCKWARDEN_API_KEY, config key "apiKey"\): must be at least 16 characters/,
      );
      // The message says how long the key was, never what it was.
      expect(result.stderr).not.toMatch(/k3y|fifteen-chars/);
    },
  );
});

describe('wrong API keys', () => {
  it('are throttled per address after 10: 429 with Retry-After, even for the right key, and logged', async () => {
    const { base, stderr } = await serve(['--insecure', '--api-key', KEY]);
    const stats = (key: string) =>
      fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${key}` } });
    for (let i = 0; i < 10; i++) expect((await stats(`guess-${i}`)).status).toBe(401);
    const throttled = await stats('guess-10');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await throttled.json()).toMatchObject({ error: 'auth_throttled' });
    // A throttled address learns nothing, not even that a key was right.
    expect((await stats(KEY)).status).toBe(429);
    // The dashboard's sign-in draws on the same budget.
    expect((await fetch(`${base}/dashboard`, form(KEY))).status).toBe(429);
    await expect.poll(stderr).toMatch(/too many wrong API keys/);
  });

  it('are throttled per client behind a trusted proxy, not for everyone the proxy forwards', async () => {
    const { base } = await serve(['--api-key', KEY, '--insecure', '--trust-proxy', '127.0.0.1']);
    const stats = (key: string, client: string) =>
      fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${key}`, 'x-forwarded-for': client } });
    for (let i = 0; i < 11; i++) await stats(`guess-${i}`, '203.0.113.5');
    expect((await stats(KEY, '203.0.113.5')).status).toBe(429);
    expect((await stats(KEY, '203.0.113.6')).status).toBe(200);
  });

  it('never takes a remote client for a local one from a forwarded address, with no key in --insecure', async () => {
    const { base } = await serve(['--insecure', '--trust-proxy', '1']);
    const asClient = (client: string) =>
      fetch(`${base}/api/stats`, { headers: { 'x-forwarded-for': client } });
    // The local proxy forwards a remote client: not local, whatever the proxy's own address.
    expect((await asClient('198.51.100.7')).status).toBe(401);
    expect((await asClient('127.0.0.1')).status).toBe(200);
  });

  it('lets through the right key once the bucket refills, and counts no attempt without a key', () => {
    let now = 0;
    const guard = new ApiKeyGuard({ apiKey: KEY, openOnLoopback: false }, pino({ level: 'silent' }), {
      now: () => now,
    });
    for (let i = 0; i < 30; i++) expect(guard.checkKey(undefined, '10.0.0.1')).toBe(false);
    for (let i = 0; i < 10; i++) expect(guard.checkKey('wrong', '10.0.0.1')).toBe(false);
    expect(() => guard.checkKey(KEY, '10.0.0.1')).toThrow(
      expect.objectContaining({ code: 'auth_throttled' }),
    );
    // Another address is not affected; nor is an address in another IPv6 /64.
    expect(guard.checkKey(KEY, '10.0.0.2')).toBe(true);
    for (let i = 0; i < 10; i++) guard.checkKey('wrong', '2001:db8:1:2::1');
    expect(() => guard.checkKey(KEY, '2001:db8:1:2:ffff::9')).toThrow();
    expect(guard.checkKey(KEY, '2001:db8:1:3::1')).toBe(true);
    now += 60_000;
    expect(guard.checkKey(KEY, '10.0.0.1')).toBe(true);
  });
});

describe('dashboard sign-in', () => {
  it('signs in by POST only: a key in the address does not sign in', async () => {
    const { base } = await serve(['--insecure', '--api-key', KEY]);
    const res = await fetch(`${base}/dashboard?key=${KEY}`, { redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toMatch(/Sign in to the dashboard/);
    const signed = await fetch(`${base}/dashboard`, form(KEY));
    expect(signed.status).toBe(303);
    const cookie = signed.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      new RegExp(`; Max-Age=${DASHBOARD_COOKIE_MAX_AGE_S}; Path=/dashboard; HttpOnly; SameSite=Strict$`),
    );
  });

  it('gives a cookie the server refuses once it has expired, whatever the browser keeps', () => {
    const guard = new ApiKeyGuard({ apiKey: KEY, openOnLoopback: false }, pino({ level: 'silent' }));
    const issuedAt = Date.UTC(2030, 0, 1);
    const cookie = (signIn(KEY, '127.0.0.1', guard, issuedAt).split(';')[0] as string).trim();
    const request = {
      headers: { cookie },
      socket: { remoteAddress: '10.9.9.9' },
    } as unknown as IncomingMessage;
    expect(() => authorizeDashboard(request, guard, issuedAt + 1_000)).not.toThrow();
    const expired = issuedAt + DASHBOARD_COOKIE_MAX_AGE_S * 1_000 + 1_000;
    expect(() => authorizeDashboard(request, guard, expired)).toThrow(
      expect.objectContaining({ code: 'unauthorized' }),
    );
    // A cookie whose expiry was edited no longer matches its signature.
    const [, signature] = cookie.split('.');
    const later = Math.floor(expired / 1_000) + 3_600;
    const forged = { ...request, headers: { cookie: `sockwarden_dashboard=${later}.${signature}` } };
    expect(() => authorizeDashboard(forged as unknown as IncomingMessage, guard, expired)).toThrow();
  });
});
