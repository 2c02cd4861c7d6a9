import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HTTP_SERVER_LIMITS } from '../../src/server/http-server.js';
import { serve } from '../helpers/cli.js';
import { openEventStream } from '../helpers/event-stream.js';
import { connect } from '../helpers/gateway.js';
import { useInProcessServer } from '../helpers/http-server.js';

const inProcess = useInProcessServer();

/** Writes `text` on a fresh socket and resolves with how long the server kept the socket open (ms). */
function heldFor(port: number, text: string): Promise<number> {
  const started = performance.now();
  const socket = tcpConnect(port, '127.0.0.1', () => socket.write(text));
  socket.on('data', () => {});
  socket.on('error', () => {});
  return new Promise((resolve) => socket.on('close', () => resolve(performance.now() - started)));
}

describe('slow HTTP clients', () => {
  it('are cut within the header timeout when they send half a request line', async () => {
    const { base } = await serve(['--insecure']);
    const held = await heldFor(Number(new URL(base).port), 'GET /dashbo');
    // Node checks the timeouts on an interval, so a socket may outlive the timeout by one interval.
    expect(held).toBeGreaterThan(HTTP_SERVER_LIMITS.headersTimeoutMs - 100);
    expect(held).toBeLessThan(HTTP_SERVER_LIMITS.headersTimeoutMs + 3_000);
  }, 20_000);

  it('cut a sign-in whose body never ends, and idle keep-alive sockets, but not upgrades or streams', async () => {
    const { gateway, port, base } = await inProcess(undefined, {
      headersTimeoutMs: 500,
      requestTimeoutMs: 1_000,
      keepAliveTimeoutMs: 500,
      timeoutCheckIntervalMs: 100,
    });
    const ws = await connect(`ws://127.0.0.1:${port}/ws`, { user: 'alice' });
    const stream = await openEventStream(`${base}/dashboard/stream`);
    await stream.next((e) => e.event === 'history');

    const signIn = heldFor(
      port,
      'POST /dashboard HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nkey=',
    );
    const idle = heldFor(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await signIn).toBeLessThan(1_800);
    // Node 20.20 gives an idle keep-alive socket one more second than keepAliveTimeout.
    expect(await idle).toBeLessThan(2_300);

    // Both outlived every timeout by far, and still work.
    await new Promise((r) => setTimeout(r, 1_500));
    const seen = stream.events.length;
    await stream.next((_e) => stream.events.length > seen, 3_000);
    gateway.publish({ user: 'alice' }, 'still here');
    expect(await ws.next((f) => f.type === 'message')).toMatchObject({ data: 'still here' });
    stream.close();
    ws.ws.close();
  });
});
