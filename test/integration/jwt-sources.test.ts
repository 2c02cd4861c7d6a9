/**
 * The JWT checks and key sources added for production: issuer, audience, a required `exp`, a JSON
 * Web Key Set from a file and from a URL (served here by a local HTTP server, keys made in the test
 * with jose), fetched once and cached.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { serveAuthenticator } from '../../src/cli/serve-auth.js';
import { readServeConfig } from '../../src/cli/serve-config.js';
import { jwtAuthenticator } from '../../src/server/jwt.js';
import { serve } from '../helpers/cli.js';
import { connect, useGateway } from '../helpers/gateway.js';

const SECRET = 'a-test-secret-of-enough-length';
const gw = useGateway();
const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

async function refusal(url: string, token: string): Promise<{ status: number; message: string }> {
  try {
    gw.track(await connect(url, { token }));
  } catch (error) {
    const e = error as { status: number; body: string };
    return { status: e.status, message: (JSON.parse(e.body) as { message: string }).message };
  }
  throw new Error('expected a refusal');
}

function hs256(build: (jwt: SignJWT) => SignJWT): Promise<string> {
  return build(new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice')).sign(
    new TextEncoder().encode(SECRET),
  );
}

/** An EC key pair, its public JWK with a `kid`, and a signer of tokens for `sub`. */
async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const sign = (sub: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject(sub)
      .setExpirationTime('1m')
      .sign(privateKey);
  return { jwk, sign, privateKey: async () => privateKey };
}

describe('JWT claim checks', () => {
  it('refuses another issuer or audience, and a token without exp when exp is required', async () => {
    const running = await gw.start({
      insecure: false,
      authenticate: jwtAuthenticator(
        { secret: SECRET },
        { issuer: ['https://id.example'], audience: ['chat'], requireExp: true },
      ),
    });
    const good = (jwt: SignJWT) =>
      jwt.setIssuer('https://id.example').setAudience('chat').setExpirationTime('1m');
    await gw.open({ token: await hs256(good) });
    expect(running.gateway.sessions('alice')).toHaveLength(1);
    const wrongIssuer = await refusal(
      running.url,
      await hs256((j) => good(j).setIssuer('https://evil.example')),
    );
    expect(wrongIssuer).toMatchObject({ status: 401, message: expect.stringMatching(/"iss" claim/) });
    const wrongAudience = await refusal(running.url, await hs256((j) => good(j).setAudience('billing')));
    expect(wrongAudience.message).toMatch(/"aud" claim/);
    const noExp = await refusal(
      running.url,
      await hs256((j) => j.setIssuer('https://id.example').setAudience('chat')),
    );
    expect(noExp.message).toMatch(/"exp" claim/);
  });

  it('accepts a token without exp when it is not required', async () => {
    const running = await gw.start({ insecure: false, authenticate: jwtAuthenticator({ secret: SECRET }) });
    await gw.open({ token: await hs256((j) => j) });
    expect(running.gateway.sessions('alice')).toHaveLength(1);
  });
});

describe('JSON Web Key Sets', () => {
  it('verifies with the keys of a local set, picking the key by kid', async () => {
    const [a, b] = [await keyPair('a'), await keyPair('b')];
    const running = await gw.start({
      insecure: false,
      authenticate: jwtAuthenticator({ jwks: { keys: [a.jwk, b.jwk] } }),
    });
    await gw.open({ token: await b.sign('bob') });
    expect(running.gateway.sessions('bob')).toHaveLength(1);
    const stranger = await keyPair('c');
    expect((await refusal(running.url, await stranger.sign('eve'))).message).toMatch(/no key of the key set/);
  });

  it('fetches a remote set once, caches it, and refuses tokens while it is unreachable', async () => {
    const signer = await keyPair('k1');
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [signer.jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(() => server.close());
    const { port } = server.address() as AddressInfo;
    const running = await gw.start({
      insecure: false,
      authenticate: jwtAuthenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }),
    });
    await gw.open({ token: await signer.sign('alice') });
    await gw.open({ token: await signer.sign('bob') });
    expect(running.gateway.sessions('alice')).toHaveLength(1);
    expect(running.gateway.sessions('bob')).toHaveLength(1);
    expect(fetches).toBe(1);

    const down = await gw.start({
      insecure: false,
      authenticate: jwtAuthenticator({ jwksUrl: 'http://127.0.0.1:1/jwks.json', fetch: { timeoutMs: 500 } }),
    });
    expect(await refusal(down.url, await signer.sign('carol'))).toMatchObject({ status: 401 });
  });
});

describe('serve flags for JWT', () => {
  it('builds the authenticator from --jwks-file and the claim flags, as serve does', async () => {
    const signer = await keyPair('f1');
    const file = join(mkdtempSync(join(tmpdir(), 'sockwarden-jwks-')), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [signer.jwk] }));
    const config = readServeConfig(['--jwks-file', file, '--jwt-audience', 'chat'], {}, () => {});
    const running = await gw.start({ insecure: false, authenticate: serveAuthenticator(config) });
    expect((await refusal(running.url, await signer.sign('dan'))).message).toMatch(/"aud" claim/);
    writeFileSync(file, JSON.stringify({ keys: [{ ...signer.jwk, d: 'private' }] }));
    expect(() => readServeConfig(['--jwks-file', file], {}, () => {})).toThrow(/private or symmetric key/);
  });

  it('is what sockwarden serve authenticates with: a key set from a file and an audience', async () => {
    const signer = await keyPair('s1');
    const file = join(mkdtempSync(join(tmpdir(), 'sockwarden-jwks-')), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [signer.jwk] }));
    const { base } = await serve(['--jwks-file', file, '--jwt-audience', 'chat']);
    const url = `${base.replace('http', 'ws')}/ws`;
    expect((await refusal(url, await signer.sign('dan'))).message).toMatch(/"aud" claim/);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 's1' })
      .setSubject('erin')
      .setAudience('chat')
      .setExpirationTime('1m')
      .sign((await signer.privateKey()) as CryptoKey);
    const client = gw.track(await connect(url, { token }));
    expect(client.frames[0]?.type).toBe('welcome');
  });
});
