import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwtAuthenticator } from '../../src/server/jwt.js';
import { ManualClock } from '../helpers/clock.js';
import { connect, type Running, useGateway } from '../helpers/gateway.js';

const SECRET = 'a-test-secret-of-enough-length';
const gw = useGateway();
let running: Running | undefined;

function hs256(claims: { sub?: string; exp?: number }, secret = SECRET): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' });
  if (claims.sub) jwt.setSubject(claims.sub);
  if (claims.exp) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(secret));
}

async function refusedWith(
  url: string,
  query: Record<string, string>,
): Promise<{ status: number; body: { error: string; message: string } }> {
  try {
    gw.track(await connect(url, query));
  } catch (error) {
    const e = error as { status: number; body: string };
    return { status: e.status, body: JSON.parse(e.body) };
  }
  throw new Error('expected a refusal');
}

describe('JWT authentication', () => {
  it('admits a valid HS256 token and takes the user id from sub', async () => {
    running = await gw.start({ insecure: false, authenticate: jwtAuthenticator({ secret: SECRET }) });
    const token = await hs256({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 });
    const _client = await gw.open({ token });
    expect(running.gateway.sessions('alice')).toHaveLength(1);
  });

  it('accepts the token in an Authorization header too', async () => {
    running = await gw.start({ insecure: false, authenticate: jwtAuthenticator({ secret: SECRET }) });
    const token = await hs256({ sub: 'bob' });
    await gw.open({}, { headers: { authorization: `Bearer ${token}` } });
    expect(running.gateway.sessions('bob')).toHaveLength(1);
  });

  it('refuses expired, badly signed, subject-less and missing tokens with 401', async () => {
    running = await gw.start({ insecure: false, authenticate: jwtAuthenticator({ secret: SECRET }) });
    const expired = await refusedWith(running.url, {
      token: await hs256({ sub: 'a', exp: Math.floor(Date.now() / 1000) - 10 }),
    });
    expect(expired).toMatchObject({
      status: 401,
      body: { error: 'unauthenticated', message: 'the token has expired' },
    });
    const forged = await refusedWith(running.url, {
      token: await hs256({ sub: 'a' }, 'another-secret-entirely!'),
    });
    expect(forged).toMatchObject({ status: 401, body: { message: 'the token signature is invalid' } });
    expect((await refusedWith(running.url, { token: await hs256({}) })).body.message).toMatch(/sub/);
    expect((await refusedWith(running.url, {})).body.message).toMatch(/no token/);
    expect(running.gateway.stats().connections).toBe(0);
  });

  it('verifies RS256 and ES256 tokens with a public key', async () => {
    for (const [type, alg] of [
      ['rsa', 'RS256'],
      ['ec', 'ES256'],
    ] as const) {
      const { publicKey, privateKey } =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      running = await gw.start({
        insecure: false,
        authenticate: jwtAuthenticator({
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
        }),
      });
      const token = await new SignJWT({})
        .setProtectedHeader({ alg })
        .setSubject(`${type}-user`)
        .sign(privateKey);
      await gw.open({ token });
      expect(running.gateway.sessions(`${type}-user`)).toHaveLength(1);
      await gw.reset();
    }
  });

  it('warns before the token expires, then closes 4003', async () => {
    const clock = new ManualClock();
    running = await gw.start({
      clock,
      insecure: false,
      authenticate: () => ({ user: 'tok', expiresAt: clock.now() + 60_000 }),
      warningBeforeCloseMs: 10_000,
      timerTickMs: 100,
      idleTimeoutMs: 0,
      // The clock jumps; a heartbeat inside the jump would see no pong in time.
      heartbeatIntervalMs: 600_000,
    });
    const client = await gw.open({});
    clock.advance(50_100);
    expect(await client.next((f) => f.type === 'warning')).toMatchObject({
      reason: 'token_expiring',
      closeInMs: 10_000,
    });
    clock.advance(10_000);
    expect((await client.closed).code).toBe(4003);
  });
});
