import { connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/clock.js';
import { type Running, until, useGateway } from '../helpers/gateway.js';

/*
 * One end-to-end test per deadline over a real socket. Their timings, to the tick, and the cases
 * around them (activity, pongs, short lifetimes and tokens) are in test/unit/core-deadlines.test.ts.
 */
const gw = useGateway();
let running: Running | undefined;

/** A raw TCP client that completes the WebSocket handshake and then never reads or answers. */
function silentClient(port: number, user: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => {
      socket.write(
        `GET /ws?user=${user} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.once('data', (chunk) => {
      if (String(chunk).startsWith('HTTP/1.1 101')) resolve(socket);
      else reject(new Error(String(chunk)));
    });
    socket.once('error', reject);
  });
}

describe('heartbeat', () => {
  it('removes a silent raw TCP client within interval + timeout + one tick, and counts a zombie', async () => {
    const clock = new ManualClock();
    running = await gw.start({
      clock,
      heartbeatIntervalMs: 1_000,
      pongTimeoutMs: 500,
      timerTickMs: 100,
      idleTimeoutMs: 0,
    });
    const socket = await silentClient(running.port, 'quiet');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await until(() => running?.gateway.stats().connections === 1, 2_000, 'open');
    // Ping at 1000; its pong is due by 1500. One tick less than interval + timeout + one tick: still there.
    clock.advance(1_000 + 500 - 1);
    expect(running.gateway.stats().connections).toBe(1);
    clock.advance(100 + 1);
    expect(running.gateway.stats().connections).toBe(0);
    await closed;
    expect(await running.gateway.metrics()).toMatch(/sockwarden_heartbeat_timeouts_total 1/);
  });
});

describe('idle timeout', () => {
  it('warns a silent client, then closes it 4102 (end to end)', async () => {
    const clock = new ManualClock();
    running = await gw.start({
      clock,
      idleTimeoutMs: 10_000,
      warningBeforeCloseMs: 2_000,
      timerTickMs: 100,
      heartbeatIntervalMs: 60_000,
      pongTimeoutMs: 1_000,
    });
    const client = await gw.open({ user: 'idle' });
    clock.advance(8_000);
    expect(await client.next((f) => f.type === 'warning')).toMatchObject({
      reason: 'idle',
      closeInMs: 2_000,
    });
    clock.advance(2_000);
    expect((await client.closed).code).toBe(4102);
  });
});

describe('max lifetime', () => {
  it('closes 4002 with a retry_after_ms hint after a lifetime warning', async () => {
    const clock = new ManualClock();
    running = await gw.start({
      clock,
      maxLifetimeMs: 10_000,
      warningBeforeCloseMs: 1_000,
      timerTickMs: 100,
      idleTimeoutMs: 0,
    });
    const client = await gw.open({ user: 'old' });
    clock.advance(9_100);
    expect(await client.next((f) => f.type === 'warning')).toMatchObject({ reason: 'lifetime' });
    clock.advance(1_000);
    const closed = await client.closed;
    expect(closed.code).toBe(4002);
    expect(closed.reason).toMatch(/^retry_after_ms=\d+$/);
  });
});
