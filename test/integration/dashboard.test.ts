/** `/dashboard` over HTTP, on the built `sockwarden serve`: who gets in, and what the stream carries. */
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { signInForm as form } from '../helpers/dashboard-sign-in.js';
import { openEventStream, type StreamEvent } from '../helpers/event-stream.js';
import { connect, type TestClient } from '../helpers/gateway.js';

type Sample = {
  point: { connections: number; admitted: number; closes: Record<string, number> };
  latest: { figures: { connections: number; topUsers: Array<{ user: string; connections: number }> } };
  viewers: number;
};

const sample = (e: StreamEvent) => e.data as Sample;

describe('dashboard access', () => {
  it('asks a browser to sign in with the API key, and the cookie it gets opens the dashboard only', async () => {
    const { base } = await serve(['--insecure', '--api-key', 'k-secret-123-0123456789']);
    const anonymous = await fetch(`${base}/dashboard`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/text\/html/);
    expect(await anonymous.text()).toMatch(/Sign in to the dashboard/);

    const wrong = await fetch(`${base}/dashboard`, form('guess'));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toMatch(/wrong API key/);

    const right = await fetch(`${base}/dashboard`, form('k-secret-123-0123456789'));
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/dashboard');
    const setCookie = right.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/; Path=\/dashboard; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain('k-secret-123-0123456789');
    const cookie = setCookie.split(';')[0] as string;

    const page = await fetch(`${base}/dashboard`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).toMatch(/<title>sockwarden dashboard<\/title>/);
    const stream = await openEventStream(`${base}/dashboard/stream`, { cookie });
    expect(stream.status).toBe(200);
    stream.close();

    // The cookie is for the dashboard: it does not open the API.
    expect((await fetch(`${base}/api/stats`, { headers: { cookie } })).status).toBe(401);
    const refused = await fetch(`${base}/dashboard/stream`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'unauthorized' });
    // A script uses the API's own header.
    const bearer = await openEventStream(`${base}/dashboard/stream`, {
      authorization: 'Bearer k-secret-123-0123456789',
    });
    expect(bearer.status).toBe(200);
    bearer.close();
  });

  it('serves its script and the charting library from the package, to anyone', async () => {
    const { base } = await serve(['--insecure', '--api-key', 'k-secret-123-0123456789']);
    for (const path of ['/dashboard/app.js', '/dashboard/vendor/uPlot.esm.js']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/javascript/);
    }
    expect((await fetch(`${base}/dashboard/vendor/uPlot.min.css`)).headers.get('content-type')).toMatch(
      /text\/css/,
    );
    const missing = await fetch(`${base}/dashboard/secrets.txt`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
    expect((await fetch(`${base}/dashboard/stream`, { method: 'DELETE' })).status).toBe(405);
  });

  it('says how to enable it when the server has no API key and is not in insecure mode', async () => {
    const { base } = await serve(['--jwt-secret', 'a-long-enough-secret-000']);
    const res = await fetch(`${base}/dashboard`);
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/start the server with --api-key/);
  });
});

describe('dashboard stream', () => {
  it('sends the history, then a sample a second that follows connections up and down', async () => {
    const { base } = await serve(['--insecure']);
    const stream = await openEventStream(`${base}/dashboard/stream`);
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const history = await stream.next((e) => e.event === 'history');
    expect(history.data).toMatchObject({
      limits: { maxConnectionsPerUser: 10, thresholds: { warning: 0.8, shedding: 0.85, critical: 0.95 } },
      viewers: 1,
    });
    const ws = `${base.replace('http', 'ws')}/ws`;
    const clients: TestClient[] = [];
    for (let i = 0; i < 4; i++) clients.push(await connect(ws, { user: i < 3 ? 'heavy' : 'light' }));
    const up = sample(await stream.next((e) => e.event === 'sample' && sample(e).point.connections === 4));
    expect(up.latest.figures.topUsers[0]).toEqual({ user: 'heavy', connections: 3 });
    for (const client of clients) client.ws.close(1000);
    const down = sample(
      await stream.next((e) => e.event === 'sample' && sample(e).point.connections === 0, 5_000),
    );
    const cleanCloses = stream.events
      .filter((e) => e.event === 'sample')
      .reduce((sum, e) => sum + (sample(e).point.closes.clean ?? 0), 0);
    // Rates are per second over each interval, so their sum is close to, not exactly, the count.
    expect(cleanCloses).toBeGreaterThan(2);
    expect(down.viewers).toBe(1);
    stream.close();
  });

  it('streams to 16 viewers at most, refuses the next with 503 and Retry-After, and counts them', async () => {
    const { base } = await serve(['--insecure']);
    const viewers = [];
    for (let i = 0; i < 16; i++) {
      const stream = await openEventStream(`${base}/dashboard/stream`);
      await stream.next((e) => e.event === 'history');
      viewers.push(stream);
    }
    const refused = await fetch(`${base}/dashboard/stream`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ error: 'too_many_streams' });
    const stats = await (await fetch(`${base}/api/stats`)).json();
    expect(stats.dashboard).toEqual({ viewers: 16, maxViewers: 16 });
    viewers.pop()?.close();
    await expect
      .poll(async () => (await (await fetch(`${base}/api/stats`)).json()).dashboard.viewers)
      .toBe(15);
    const again = await openEventStream(`${base}/dashboard/stream`);
    expect(again.status).toBe(200);
    for (const stream of [...viewers, again]) stream.close();
  });

  it('ends the streams when the server drains, and the server still exits 0', async () => {
    const { base, child, exited } = await serve(['--insecure', '--drain-timeout', '100']);
    const stream = await openEventStream(`${base}/dashboard/stream`);
    await stream.next((e) => e.event === 'history');
    child.kill('SIGTERM');
    await stream.ended;
    expect(await exited).toBe(0);
  });
});
