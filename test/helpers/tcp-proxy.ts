import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** A real TCP proxy in front of a server, able to cut or freeze every connection through it. */
export interface TcpProxy {
  port: number;
  /** Destroys every connection at once, as a network failure would (no close frame). */
  cut(): void;
  /** Stops forwarding in both directions while keeping the sockets open: a frozen peer. */
  freeze(): void;
  /** Forwards again, including what was held back. */
  thaw(): void;
  /** Cuts every connection and resets new ones at once, as if the server were down. */
  down(): void;
  /** Accepts and forwards connections again after {@link down}. */
  up(): void;
  /** Sends new connections to another port, as a load balancer would after a restart. */
  retarget(port: number): void;
  /** Connections currently held. */
  readonly open: number;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `targetPort`. */
export async function startTcpProxy(initialTarget: number): Promise<TcpProxy> {
  let targetPort = initialTarget;
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!to.destroyed) to.write(chunk);
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    if (frozen) {
      client.pause();
      upstream.pause();
    }
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TcpProxy = {
    port: (server.address() as AddressInfo).port,
    cut() {
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
      pairs.clear();
    },
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    down() {
      refusing = true;
      proxy.cut();
    },
    up() {
      refusing = false;
    },
    retarget(port) {
      targetPort = port;
    },
    get open() {
      return pairs.size;
    },
    async close() {
      proxy.cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
