/**
 * The raw sockets of a server the gateway is attached to are capped before any byte is read, in
 * all and per IP, so that a flood of idle sockets cannot take every descriptor; and the server
 * keeps an error listener for its whole life, so that a late server error is counted, not fatal.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Running, until, useGateway } from '../helpers/gateway.js';

const gw = useGateway();

/** Opens idle TCP sockets from `localAddress`; each records whether the server closed it. */
async function idleSockets(
  port: number,
  count: number,
  localAddress: string,
): Promise<Array<{ socket: Socket; closed: boolean }>> {
  const opened = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ socket: Socket; closed: boolean }>((resolve, reject) => {
          const entry = { socket: tcpConnect({ port, host: '127.0.0.1', localAddress }), closed: false };
          entry.socket.on('close', () => {
            entry.closed = true;
          });
          entry.socket.on('error', () => {});
          entry.socket.once('connect', () => resolve(entry));
          entry.socket.once('error', reject);
        }),
    ),
  );
  return opened;
}

function refusedCount(metrics: string, reason: string): number {
  return Number(
    new RegExp(`sockwarden_sockets_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1],
  );
}

describe('socket guard', () => {
  let sockets: Array<{ socket: Socket; closed: boolean }> = [];
  const start = async (options: Parameters<typeof gw.start>[0]): Promise<Running> => {
    for (const { socket } of sockets) socket.destroy();
    sockets = [];
    return gw.start(options);
  };

  it('closes the sockets of one IP past maxSocketsPerIp at once, and others still connect', async () => {
    const running = await start({ maxSocketsPerIp: 5 });
    sockets = await idleSockets(running.port, 8, '127.0.0.2');
    await until(() => sockets.filter((s) => s.closed).length === 3, 2_000, 'three sockets refused');
    const client = await gw.open({ user: 'someone-else' });
    expect(client.frames[0]?.type).toBe('welcome');
    expect(sockets.filter((s) => s.closed)).toHaveLength(3);
    expect(refusedCount(await running.gateway.metrics(), 'max_sockets_per_ip')).toBe(3);
    expect(refusedCount(await running.gateway.metrics(), 'max_sockets')).toBe(0);
    for (const { socket } of sockets) socket.destroy();
    // Their slots came back: the IP may open five again.
    const openOnServer = () =>
      new Promise<number>((resolve, reject) =>
        running.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
    await until(async () => (await openOnServer()) === 1, 2_000, 'the server to see them close');
    const again = await idleSockets(running.port, 5, '127.0.0.2');
    sockets.push(...again);
    await until(async () => (await openOnServer()) === 6, 2_000, 'the server to hold the five');
    expect(refusedCount(await running.gateway.metrics(), 'max_sockets_per_ip')).toBe(3);
    expect(again.filter((s) => s.closed)).toHaveLength(0);
  });

  it('closes sockets past maxSockets, whatever their address', async () => {
    const running = await start({ maxSockets: 6 });
    sockets = [
      ...(await idleSockets(running.port, 4, '127.0.0.3')),
      ...(await idleSockets(running.port, 4, '127.0.0.4')),
    ];
    await until(() => sockets.filter((s) => s.closed).length === 2, 2_000, 'two sockets dropped');
    expect(refusedCount(await running.gateway.metrics(), 'max_sockets')).toBe(2);
  });

  it('keeps a lower cap the application set on its own server, and gives it back on close', async () => {
    const { createServer } = await import('node:http');
    const { createGateway } = await import('../../src/index.js');
    const { quietLogger } = await import('../helpers/gateway.js');
    const server = createServer();
    server.maxConnections = 50;
    const gateway = createGateway({ insecure: true, logger: quietLogger(), maxSockets: 500 });
    gateway.attach(server);
    expect(server.maxConnections).toBe(50);
    const other = createServer();
    gateway.attach(other);
    expect(other.maxConnections).toBe(500);
    await gateway.close({ drainMs: 0 });
    expect(server.maxConnections).toBe(50);
    expect(other.maxConnections).not.toBe(500);
  });

  it('keeps an error listener on the server: errors after listening are counted, not thrown', async () => {
    const running = await start({});
    for (let i = 0; i < 2; i++)
      running.server.emit('error', Object.assign(new Error('accept'), { code: 'EMFILE' }));
    expect(await running.gateway.metrics()).toMatch(/sockwarden_failures_total\{where="http server"\} 2/);
  });
});
