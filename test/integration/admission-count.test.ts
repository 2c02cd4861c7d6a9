/**
 * `sockwarden_admissions_total{outcome="admitted"}` counts sockets that opened. A handshake that
 * passes admission and then fails (here, one `ws` itself rejects for a missing key) gives its slot
 * back and is not an admission.
 */
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

/** Sends an upgrade request without `Sec-WebSocket-Key` and resolves the status line of the answer. */
function brokenHandshake(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.write(
        'GET /ws?user=alice HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sockwarden.v1\r\n\r\n',
      );
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('close', () => resolve(answer.split('\r\n', 1)[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('admissions counted', () => {
  it('counts an upgrade as admitted when its socket opens, not when a failing handshake passed admission', async () => {
    const running = await gw.start({ maxConnectionsPerUser: 1 });
    const port = Number(new URL(running.url).port);
    expect(await brokenHandshake(port)).toMatch(/^HTTP\/1\.1 400/);
    // Its slot came back, so the user's one connection is admitted.
    await until(() => running.gateway.stats().topUsers.length === 0, 2_000, 'the slot to come back');
    await gw.open({ user: 'alice' });
    const { admissions } = await running.gateway.totals();
    expect(admissions.admitted).toBe(1);
  });
});
