/**
 * Time bounds of a backend call as the client sees them: `--retry-budget` is the total time of one
 * call, a stream included, so a backend that trickles forever is cut; and a backend's `Retry-After`
 * reaches the client clamped to a sane wait, never a number of years.
 */
import type { ServerResponse } from 'node:http';
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
const BUDGET_MS = 1_000;

/** Writes `piece` every 100 ms until the gateway closes the request. */
async function trickle(res: ServerResponse, piece: (n: number) => string): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (let n = 0; !res.destroyed; n++) {
    res.write(piece(n));
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('backend bridge: the retry budget bounds a whole call, stream included', () => {
  it.each([
    ['a byte at a time, never finishing a line', (n: number) => (n === 0 ? '{"t":"' : 'x'), 0],
    ['a whole line at a time, never ending', (n: number) => `{"n":${n}}\n`, 5],
  ])(
    'a backend trickling %s is cut once the budget passes, and the client is told',
    async (_what, piece, minLines) => {
      const running = await gw.start({
        governor: { retryBudgetMs: BUDGET_MS, attemptTimeoutMs: 500, breakerConsecutiveFailures: 1 },
      });
      const backend = await startBackend();
      backend.handle = (_request, res) => trickle(res, piece);
      detachers.push(bridge(running, backend.url));
      const client = await gw.open({ user: 'alice' });
      const sentAt = Date.now();
      client.send({ type: 'message', id: 'slow', data: 'go' });
      const error = await client.next((f) => isError(f) && f.ref === 'slow', BUDGET_MS * 4);
      expect(error).toMatchObject({
        code: 'backend_unavailable',
        message: expect.stringMatching(/retry budget \(1000 ms\)/),
      });
      const closedAt = await (backend.requests[0]?.closed as Promise<number>);
      expect(closedAt - sentAt).toBeGreaterThanOrEqual(BUDGET_MS - 50);
      expect(closedAt - sentAt).toBeLessThan(BUDGET_MS + 500);
      expect(client.messages().length).toBeGreaterThanOrEqual(minLines);
      // A long answer is not a broken backend: the circuit stays closed for everyone.
      expect(running.gateway.stats().upstream.backend?.circuit).toBe('closed');
      expect(running.gateway.stats().resources.upstream ?? 0).toBe(0);
    },
  );
});

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
