/**
 * The guard of a server's raw sockets, before any HTTP byte is read: a cap on sockets in all
 * (`server.maxConnections`, so that a flood of idle sockets cannot take the descriptors the
 * process needs for health checks and real clients), a cap per IP, and an error listener that
 * stays for the server's whole life, so that a late server error (an accept failing with EMFILE,
 * say) is logged and counted instead of crashing the process.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** The caps; 0 turns one off. */
export interface SocketLimits {
  /** Open sockets of the server at once: HTTP requests, upgrades and WebSockets alike. */
  maxSockets: number;
  /** Open sockets of one IP address at once. */
  maxSocketsPerIp: number;
}

/** Why a socket was refused. */
export type SocketRefusal = 'max_sockets' | 'max_sockets_per_ip';

/** Where the guard reports. */
export interface SocketGuardReport {
  /** A socket was closed at once, without a byte read. */
  refused(reason: SocketRefusal, ip: string): void;
  /** The server emitted an error. */
  error(error: unknown): void;
}

/** The IP a socket was counted under, kept on it so that its close needs no closure of its own. */
const COUNTED_IP = Symbol('sockwarden.countedIp');

type CountedSocket = Socket & { [COUNTED_IP]?: string };

/** Guards `server` until the returned function is called; see the module comment. */
export function guardSockets(server: Server, limits: SocketLimits, report: SocketGuardReport): () => void {
  const previousMax = server.maxConnections;
  if (limits.maxSockets > 0) server.maxConnections = limits.maxSockets;
  const perIp = new Map<string, number>();
  // One listener for every socket's close: `this` is the socket.
  function release(this: CountedSocket): void {
    const ip = this[COUNTED_IP];
    if (ip === undefined) return;
    const left = (perIp.get(ip) ?? 1) - 1;
    if (left > 0) perIp.set(ip, left);
    else perIp.delete(ip);
  }
  const onConnection = (socket: CountedSocket) => {
    if (limits.maxSocketsPerIp <= 0) return;
    const ip = socket.remoteAddress ?? 'unknown';
    const held = perIp.get(ip) ?? 0;
    if (held >= limits.maxSocketsPerIp) {
      report.refused('max_sockets_per_ip', ip);
      socket.destroy();
      return;
    }
    perIp.set(ip, held + 1);
    socket[COUNTED_IP] = ip;
    socket.once('close', release);
  };
  // Node closes a socket past maxConnections itself, with no word to anyone but this event.
  const onDrop = (data?: { remoteAddress?: string }) =>
    report.refused('max_sockets', data?.remoteAddress ?? 'unknown');
  const onError = (error: unknown) => report.error(error);
  server.on('connection', onConnection);
  server.on('drop', onDrop);
  server.on('error', onError);
  return () => {
    server.off('connection', onConnection);
    server.off('drop', onDrop);
    server.off('error', onError);
    server.maxConnections = previousMax;
  };
}
