/**
 * Cross-site requests against what `npm start` runs (`--insecure`, no API key, so the API is open to
 * loopback): a page on another site that the developer visits must not be able to publish, collect
 * garbage or disconnect through the developer's browser.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { connect } from '../helpers/gateway.js';

const JSON_TYPE = { 'content-type': 'application/json' };

describe('POST bodies', () => {
  it('must be Content-Type: application/json: text/plain, forms and no type get 415 and change nothing', async () => {
    const { base } = await serve(['--insecure']);
    const client = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'alice' });
    const body = JSON.stringify({ user: 'alice', data: 'forged' });
    const types: Array<Record<string, string>> = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      {},
    ];
    for (const headers of types) {
      for (const path of ['/api/publish', '/api/disconnect']) {
        // Without a type of its own, fetch would label a string text/plain: bytes go unlabelled.
        const sent = headers['content-type'] ? body : new TextEncoder().encode(body);
        const res = await fetch(`${base}${path}`, { method: 'POST', body: sent, headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(415);
        expect(await res.json()).toMatchObject({
          error: 'bad_content_type',
          message: expect.stringMatching(/Content-Type: application\/json/),
          field: 'content-type',
        });
      }
    }
    // A body on POST /api/gc, which takes none, must be JSON too.
    expect((await fetch(`${base}/api/gc`, { method: 'POST', body: 'x', headers: {} })).status).toBe(415);
    expect(client.messages()).toEqual([]);
    const published = await fetch(`${base}/api/publish`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(await published.json()).toEqual({ delivered: 1, queued: 0 });
    client.ws.close();
  });
});

describe('cross-site requests', () => {
  it('get 403 on the API and the dashboard sign-in: a foreign Origin, or Sec-Fetch-Site: cross-site', async () => {
    const { base } = await serve(['--insecure']);
    const client = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'alice' });
    const forged: Array<Record<string, string>> = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: base.replace('127.0.0.1', 'localhost') },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of forged) {
      for (const [path, body] of [
        ['/api/publish', '{"user":"alice","data":"forged"}'],
        ['/api/disconnect', '{"user":"alice"}'],
        ['/api/gc', undefined],
      ] as const) {
        const res = await fetch(`${base}${path}`, {
          method: 'POST',
          body,
          headers: { ...JSON_TYPE, ...headers },
        });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(await res.json()).toMatchObject({ error: 'cross_site_request' });
      }
      const signIn = await fetch(`${base}/dashboard`, {
        method: 'POST',
        body: 'key=whatever',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        redirect: 'manual',
      });
      expect(signIn.status).toBe(403);
    }
    expect(client.messages()).toEqual([]);

    // The gateway's own pages, and tools that send no Origin at all, go through.
    const allowed: Array<Record<string, string>> = [
      { origin: base },
      { 'sec-fetch-site': 'same-origin' },
      {},
    ];
    for (const headers of allowed) {
      const res = await fetch(`${base}/api/publish`, {
        method: 'POST',
        body: '{"user":"alice","data":"ok"}',
        headers: { ...JSON_TYPE, ...headers },
      });
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
    // A link from another site still opens the dashboard page (its sign-in form, at worst).
    const linked = await fetch(`${base}/dashboard`, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(linked.status).toBe(200);
    client.ws.close();
  });
});

/** POSTs JSON with a `Host` and `Origin` of the caller's choosing (fetch may not set `Host`). */
function postAs(
  base: string,
  path: string,
  host: string,
  body: string,
): Promise<{ status: number; body: string }> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { host, origin: `http://${host}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('DNS rebinding', () => {
  it('refuses a same-origin request addressed by a name that is not loopback, with no key in --insecure', async () => {
    const { base } = await serve(['--insecure']);
    const client = await connect(`${base.replace('http', 'ws')}/ws`, { user: 'alice' });
    const port = new URL(base).port;
    const body = '{"user":"alice","data":"forged"}';
    // A page of attacker.example whose name now resolves to 127.0.0.1: Host and Origin agree.
    const rebound = await postAs(base, '/api/publish', `attacker.example:${port}`, body);
    expect(rebound.status).toBe(401);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: 'unauthorized' });
    expect(client.messages()).toEqual([]);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`]) {
      expect((await postAs(base, '/api/publish', host, '{"user":"alice","data":"ok"}')).status, host).toBe(
        200,
      );
    }
    client.ws.close();
  });
});
