/**
 * The bridge never follows a redirect: a signed POST carries the user, the session and the message,
 * so a `Location` naming another host must not receive it (nor a GET carrying the signature), and
 * that host's answer must never reach the client as if the backend had said it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bridge, startBackend, startRecorder } from '../helpers/backend.js';
import { type Frame, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const isError = (f: Frame) => f.type === 'error';

describe('backend bridge: redirects', () => {
  it.each([
    [307, 'would re-POST the signed body'],
    [308, 'would re-POST the signed body'],
    [301, 'would GET with the signature header'],
    [302, 'would GET with the signature header'],
  ])(
    'a %i to another host is a backend_unavailable, not retried, and the other host gets nothing (%s)',
    async (status) => {
      const running = await gw.start({ governor: { maxAttempts: 3, backoffBaseMs: 10 } });
      const backend = await startBackend();
      const elsewhere = await startRecorder();
      backend.handle = (_request, res) => void res.writeHead(status, { location: elsewhere.url }).end();
      detachers.push(bridge(running, backend.url, { events: ['connect', 'disconnect'] }));
      const client = await gw.open({ user: 'alice', session: 'redirected' });
      client.send({ type: 'message', id: 'r1', data: { secret: 'for the backend only' } });
      const error = await client.next((f) => isError(f) && f.ref === 'r1');
      expect(error).toMatchObject({
        code: 'backend_unavailable',
        message: expect.stringMatching(new RegExp(`HTTP ${status}.*redirect`)),
      });
      expect(client.frames.some((f) => f.type === 'message')).toBe(false);
      client.ws.close(1000);
      await until(() => backend.requests.length === 3, 5_000, 'the disconnect event');
      // connect, the message once (a redirect is not retried), disconnect: all to the backend alone.
      expect(backend.requests.map((r) => r.body.event)).toEqual(['connect', 'message', 'disconnect']);
      expect(elsewhere.requests).toEqual([]);
    },
  );
});
