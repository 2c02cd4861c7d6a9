/**
 * Every flag of `sockwarden serve` with a wrong value exits 2 with a message naming the flag, its
 * environment variable and its config-file key (the README's promise), never a stack trace; and the
 * configuration mistakes that used to pass silently (a misspelt variable, --insecure with a JWT
 * setting) are named.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { dashboardNotice } from '../../src/cli/serve-auth.js';
import { readServeConfig } from '../../src/cli/serve-config.js';
import { camelCase, envName, FLAGS, type FlagSpec } from '../../src/cli/serve-flags.js';
import { DEMO_PAGE, pollCounts } from '../../src/demo/page.js';
import { run, serve } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'sockwarden-flags-'));

/** A value each flag refuses; by kind unless the flag needs its own. */
const SPECIAL: Record<string, string> = {
  host: 'no such host!',
  port: '99999',
  path: 'ws',
  'tls-cert': join(dir, 'missing-cert.pem'),
  'tls-key': join(dir, 'missing-key.pem'),
  'trust-proxy': '10.0.0.0/33',
  config: join(dir, 'missing.json'),
  'jwt-secret': 'short',
  'jwt-public-key': join(dir, 'missing.pem'),
  'jwt-secret-file': join(dir, 'missing-secret'),
  'jwks-file': join(dir, 'missing.jwks'),
  'jwks-url': 'ftp://keys.example.com/jwks.json',
  'api-key': 'short',
  'metrics-auth': 'none',
  'backend-url': 'nope',
  'backend-secret': '',
  'backend-events': 'typing',
  redis: 'localhost:6379',
  'redis-fail': 'maybe',
  'redis-prefix': '',
  'log-level': 'loud',
  'allowed-origins': 'https://app.example.com/',
};
const BY_KIND: Record<string, string> = { integer: 'abc', number: 'abc', policy: 'kick', boolean: 'maybe' };
/** Flags whose wrong use is their combination with --insecure rather than a value. */
const WITH_INSECURE = new Set(['jwt-issuer', 'jwt-audience', 'jwt-require-exp']);
const AUTH = new Set([
  'jwt-secret',
  'jwt-public-key',
  'jwt-secret-file',
  'jwks-file',
  'jwks-url',
  'insecure',
]);

function badArgs(flag: FlagSpec): string[] {
  if (WITH_INSECURE.has(flag.name))
    return ['--insecure', flag.kind === 'boolean' ? `--${flag.name}` : `--${flag.name}=https://issuer`];
  const value = SPECIAL[flag.name] ?? BY_KIND[flag.kind];
  if (value === undefined) throw new Error(`no bad value for --${flag.name}`);
  return [...(AUTH.has(flag.name) ? [] : ['--insecure']), `--${flag.name}=${value}`];
}

/**
 * Runs the command line in this process, as bin/sockwarden.js does, with stderr captured: 75 child
 * processes would take half a minute on two cores. Every value here fails before anything listens;
 * one that did not would start a server, so the race fails the test instead of hanging it.
 */
async function inProcess(argv: string[]): Promise<{ code: number | string; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await Promise.race([
      main(argv),
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 5_000).unref()),
    ]);
    return { code, stderr };
  } finally {
    spy.mockRestore();
  }
}

function expectNamed(stderr: string, flag: FlagSpec): void {
  expect(stderr, flag.name).toContain('sockwarden: invalid configuration:');
  expect(stderr, flag.name).toContain(`--${flag.name}`);
  expect(stderr, flag.name).toContain(envName(flag.name));
  expect(stderr, flag.name).toContain(`"${camelCase(flag.name)}"`);
  expect(stderr, flag.name).not.toMatch(/\n\s+at /);
}

describe('every flag with a wrong value', () => {
  it('exits 2 naming the flag, its variable and its file key', async () => {
    for (const flag of FLAGS) {
      const result = await inProcess(['serve', '--port', '0', ...badArgs(flag)]);
      expect.soft(result.code, `--${flag.name}: ${result.stderr}`).toBe(2);
      expectNamed(result.stderr, flag);
    }
  });

  it('exits 2 with the message, not a RangeError stack, for --port 99999 in the real command', async () => {
    const result = await run(['serve', '--insecure', '--port', '99999']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--port: must be a port from 0 to 65535 \(got 99999\)/);
    expect(result.stderr).not.toMatch(/RangeError/);
  });

  it('says so for an environment variable and a config-file key too', async () => {
    const port = FLAGS.find((f) => f.name === 'port') as FlagSpec;
    const fromEnv = await run(['serve', '--insecure'], { SOCKWARDEN_PORT: '70000' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/SOCKWARDEN_PORT: must be a port from 0 to 65535 \(got 70000\)/);
    expectNamed(fromEnv.stderr, port);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ allowedOrigins: ['https://app.example.com/'] }));
    const fromFile = await run(['serve', '--insecure', '--config', file]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/config key "allowedOrigins": must list origins/);
    expectNamed(fromFile.stderr, FLAGS.find((f) => f.name === 'allowed-origins') as FlagSpec);
    const insecure = await run(['serve'], { SOCKWARDEN_INSECURE: 'maybe' });
    expect(insecure.code).toBe(2);
    expectNamed(insecure.stderr, FLAGS.find((f) => f.name === 'insecure') as FlagSpec);
  });
});

describe('ports', () => {
  it('takes 0 to 65535 and nothing else', () => {
    expect(readServeConfig(['--port', '0'], {}).port).toBe(0);
    expect(readServeConfig(['--port', '65535'], {}).port).toBe(65_535);
    expect(() => readServeConfig(['--port', '65536'], {})).toThrow(/must be a port from 0 to 65535/);
  });
});

describe('names that match nothing', () => {
  it('warns about an unknown SOCKWARDEN_ variable, naming the closest one', () => {
    const warnings: string[] = [];
    readServeConfig([], { SOCKWARDEN_MAX_CONECTIONS: '5', SOCKWARDEN_PORT: '1', HOME: '/' }, (m) =>
      warnings.push(m),
    );
    expect(warnings).toEqual([
      'unknown environment variable SOCKWARDEN_MAX_CONECTIONS is ignored; did you mean SOCKWARDEN_MAX_CONNECTIONS?',
    ]);
  });

  it('suggests the closest flag and config key', () => {
    expect(() => readServeConfig(['--max-conections', '4'], {}, () => {})).toThrow(
      /did you mean --max-connections\?/,
    );
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ maxConections: 4 }));
    expect(() => readServeConfig(['--config', file], {}, () => {})).toThrow(
      /unknown key "maxConections".*did you mean "maxConnections"\?/,
    );
  });
});

describe('authentication flags', () => {
  const secret = 'a-secret-of-enough-length';
  const pem = join(dir, 'key.pem');
  writeFileSync(
    pem,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
  );

  it('refuses --insecure together with any JWT setting, saying why', () => {
    for (const argv of [
      ['--jwt-secret', secret],
      ['--jwt-public-key', pem],
      ['--jwt-issuer', 'https://issuer.example'],
      ['--jwt-require-exp'],
    ]) {
      expect(() => readServeConfig(['--insecure', ...argv], {}, () => {}), argv[0]).toThrow(
        /cannot be combined with --insecure: --insecure takes the user from \?user= and ignores tokens/,
      );
    }
  });

  it('reads the secret from a file, without its trailing newline, and refuses two sources', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${secret}\n`);
    expect(readServeConfig(['--jwt-secret-file', file], {}).jwtSecret).toBe(secret);
    expect(() => readServeConfig(['--jwt-secret-file', file, '--jwt-secret', secret], {})).toThrow(
      /cannot be combined with --jwt-secret/,
    );
    writeFileSync(file, 'short\n');
    expect(() => readServeConfig(['--jwt-secret-file', file], {})).toThrow(
      /--jwt-secret-file.*must be at least 16 characters \(got 5\)/,
    );
  });

  it('takes issuer, audience and required exp', () => {
    const config = readServeConfig(
      ['--jwt-secret', secret, '--jwt-issuer', 'a,b', '--jwt-audience', 'chat', '--jwt-require-exp'],
      {},
    );
    expect(config).toMatchObject({ jwtIssuer: ['a', 'b'], jwtAudience: ['chat'], jwtRequireExp: true });
  });
});

describe('--demo with --api-key', () => {
  const key = 'k3y-0123456789abcdef';

  it("asks the API for the header's counts once, then stops at 401 and says why", async () => {
    const { base } = await serve(['--insecure', '--demo', '--api-key', key]);
    const page = await (await fetch(`${base}/`)).text();
    // The page runs this very function (compiled by tsc there, by Vitest here, so not byte-equal).
    expect(page).toMatch(/\(function pollCounts\(get, show, later\) \{[\s\S]*live counts need the API key/);
    const statuses: number[] = [];
    const shown: string[] = [];
    const pending: Array<() => void> = [];
    const get = async (path: string) => {
      const response = await fetch(`${base}${path}`);
      statuses.push(response.status);
      return response;
    };
    await pollCounts(
      get,
      (text) => shown.push(text),
      (next) => pending.push(next),
    );
    expect(statuses).toEqual([401]);
    expect(pending).toEqual([]);
    expect(shown).toEqual(['live counts need the API key: see /dashboard']);
    expect(shown.join()).not.toMatch(/undefined/);
  });

  it('keeps polling with real counts when the API answers (--insecure on loopback, no key)', async () => {
    const { base } = await serve(['--insecure', '--demo']);
    const shown: string[] = [];
    const pending: Array<() => void> = [];
    await pollCounts(
      (path) => fetch(`${base}${path}`),
      (text) => shown.push(text),
      (next) => pending.push(next),
    );
    expect(shown[0]).toMatch(/^gateway: 0 connections, 0 sessions, pressure ok/);
    expect(pending).toHaveLength(1);
  });

  it("inlines the poller as valid JavaScript in the page's module script", () => {
    const script = /<script type="module">([\s\S]*)<\/script>/.exec(DEMO_PAGE)?.[1] as string;
    const file = join(dir, 'demo.mjs');
    writeFileSync(file, script);
    expect(spawnSync(process.execPath, ['--check', file]).status).toBe(0);
  });
});

describe('the dashboard line at startup', () => {
  const base = 'http://127.0.0.1:8080';

  it('prints no URL that can only answer 401, and says who can open it', () => {
    expect(dashboardNotice({ apiKey: undefined, insecure: false }, base)).not.toContain(base);
    expect(dashboardNotice({ apiKey: undefined, insecure: false }, base)).toMatch(/off without --api-key/);
    expect(dashboardNotice({ apiKey: undefined, insecure: true }, base)).toMatch(
      /^dashboard: http:\/\/127\.0\.0\.1:8080\/dashboard \(no --api-key: open to callers on this machine only/,
    );
    expect(dashboardNotice({ apiKey: 'k'.repeat(16), insecure: false }, base)).toMatch(
      /sign in with the --api-key/,
    );
  });
});
