/**
 * Time bounds of a backend call as the client sees them: a backend's `Retry-After` reaches the
 * client clamped to a sane wait, never a number of years.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS } from '../../src/retry-after.js';
import { bridge, startBackend } from '../helpers/backend.js';
import { type Frame, useGateway } from '../helpers/gateway.js';

const gw = useGateway();
const detachers: Array<() => void> = [];
afterEach(() => {
  for (const detach of detachers.splice(0)) detach();
});

const isError = (f: Frame) => f.type === 'error';

describe("backend bridge: a backend's Retry-After reaches the client clamped", () => {
  it.each([
    [429, '99999999 s', '99999999', 'rate_limited'],
    [503, '99999999 s', '99999999', 'backend_unavailable'],
    [429, 'a date ten years on', new Date(Date.now() + 10 * 365 * 86_400_000).toUTCString(), 'rate_limited'],
    [429, 'a 400-digit number of seconds', '9'.repeat(400), 'rate_limited'],
  ])(
    '%i with Retry-After %s gives %s with retryAfterMs clamped to 60 s',
    async (status, _what, header, code) => {
      const running = await gw.start({ governor: { maxAttempts: 3 } });
      const backend = await startBackend();
      backend.handle = (_request, res) => void res.writeHead(status, { 'retry-after': header }).end();
      detachers.push(bridge(running, backend.url));
      const client = await gw.open({ user: 'alice' });
      client.send({ type: 'message', id: 'later', data: 'x' });
      const error = await client.next((f) => isError(f) && f.ref === 'later');
      expect(error).toMatchObject({ code, retryAfterMs: MAX_RETRY_AFTER_MS });
      // Past the budget, the governor gave up at once rather than wait or retry early.
      expect(backend.requests).toHaveLength(1);
    },
  );
});
