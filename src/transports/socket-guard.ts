/**
 * The guard of a server's raw sockets, before any HTTP byte is read: a cap on sockets in all
 * (`server.maxConnections`, so that a flood of idle sockets cannot take the descriptors the
 * process needs for health checks and real clients), a cap per IP, and an error listener that
 * stays for the server's whole life, so that a late server error (an accept failing with EMFILE,
 * say) is logged and counted instead of crashing the process.
 *
 * The per-IP cap counts TCP peers, before any forwarding header could be read: a trusted proxy's
 * address is not counted at all (it carries every client behind it), and with a hop count every
 * peer is a proxy, so the per-IP cap does not apply. Admission's per-IP limits, which do see the
 * forwarded address, still hold per client.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { addressKey, DEFAULT_IPV6_PREFIX, normalizeAddress, type ProxyTrust } from './client-address.js';

/** The caps; 0 turns one off. */
export interface SocketLimits {
  /** Open sockets of the server at once: HTTP requests, upgrades and WebSockets alike. */
  maxSockets: number;
  /** Open sockets of one IP address at once. */
  maxSocketsPerIp: number;
}

/** How peers are told apart: which are proxies, and the IPv6 prefix that groups addresses. */
export interface SocketAddressing {
  /** Peers never counted per IP; default none. */
  trust?: ProxyTrust;
  /** IPv6 peers sharing this prefix count as one; default 64. */
  ipv6PrefixLength?: number;
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
export function guardSockets(
  server: Server,
  limits: SocketLimits,
  report: SocketGuardReport,
  addressing: SocketAddressing = {},
): () => void {
  const prefix = addressing.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX;
  const previousMax = server.maxConnections;
  // An application that set a lower cap on its own server keeps it.
  if (limits.maxSockets > 0 && !(previousMax > 0 && previousMax < limits.maxSockets)) {
    server.maxConnections = limits.maxSockets;
  }
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
    const peer = normalizeAddress(socket.remoteAddress) ?? 'unknown';
    if (addressing.trust?.isProxy(peer)) return;
    const ip = addressKey(peer, prefix);
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
