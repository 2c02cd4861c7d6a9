/**
 * The Node client reads a refused upgrade's `Retry-After`, and never takes more than the gateway's
 * own cap from it: a huge value would overflow the reconnect timer, which then fires at once, and a
 * fleet of clients would reconnect in a storm.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientCloseEvent, connect } from '../../src/client/node.js';
import { MAX_RETRY_AFTER_MS } from '../../src/retry-after.js';
import { until } from '../helpers/until.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A server that refuses every upgrade with 503 and the given Retry-After. */
async function refusing(retryAfter: string): Promise<string> {
  const server = createServer();
  server.on('upgrade', (_req, socket) => {
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nContent-Length: 0\r\n\r\n`);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

describe('client: refused upgrades', () => {
  it('caps a Retry-After past the gateway’s own maximum', async () => {
    const client = connect(await refusing('99999999999'), { params: { user: 'u' } });
    const closes: ClientCloseEvent[] = [];
    client.on('close', (event) => closes.push(event));
    try {
      await until(() => closes.length > 0, 5_000, 'the refusal');
      expect(closes[0]?.refusal).toEqual({ status: 503, retryAfterMs: MAX_RETRY_AFTER_MS });
    } finally {
      client.close();
    }
  });

  it('keeps a Retry-After within the maximum as it is', async () => {
    const client = connect(await refusing('7'), { params: { user: 'u' } });
    const closes: ClientCloseEvent[] = [];
    client.on('close', (event) => closes.push(event));
    try {
      await until(() => closes.length > 0, 5_000, 'the refusal');
      expect(closes[0]?.refusal).toEqual({ status: 503, retryAfterMs: 7_000 });
    } finally {
      client.close();
    }
  });
});
