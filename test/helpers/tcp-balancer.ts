/**
 * A real round-robin TCP load balancer on a free loopback port, as in front of a cluster: each new
 * connection goes to the next backend, and to the one after when a backend refuses (a dead node).
 */
import { type AddressInfo, createServer, type Socket, connect as tcpConnect } from 'node:net';

/** A running balancer. */
export interface TcpBalancer {
  port: number;
  close(): Promise<void>;
}

/** Starts a balancer over the given backend ports. */
export async function startTcpBalancer(backends: number[]): Promise<TcpBalancer> {
  let next = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    client.pause();
    const tryBackend = (attemptsLeft: number) => {
      if (attemptsLeft === 0 || client.destroyed) {
        client.destroy();
        return;
      }
      const port = backends[next++ % backends.length] as number;
      const upstream = tcpConnect(port, '127.0.0.1');
      let connected = false;
      upstream.once('error', () => {
        if (!connected) tryBackend(attemptsLeft - 1);
      });
      upstream.once('connect', () => {
        connected = true;
        track(upstream);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    tryBackend(backends.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
