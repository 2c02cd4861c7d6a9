/**
 * `sockwarden/client` in Node: the SDK over `ws`. Unlike a browser it can read a refused upgrade's
 * status and `Retry-After`, so a 429 or 503 paces the next attempt by what the server asked.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../protocol.js';
import { clampRetryAfter, parseRetryAfter } from '../retry-after.js';
import { SockwardenClient } from './client.js';
import type { ConnectOptions } from './options.js';
import type { ClientSocket, SocketEvents, UpgradeRefusal } from './socket.js';

/** Opens a `ws` WebSocket behind the {@link ClientSocket} port. */
export function nodeSocket(url: string, events: SocketEvents): ClientSocket {
  const socket = new WebSocket(url, SUBPROTOCOL);
  let refusal: UpgradeRefusal | undefined;
  socket.on('open', () => events.opened());
  socket.on('message', (data, isBinary) => {
    if (!isBinary) events.text(data.toString());
  });
  socket.on('unexpected-response', (_req, res: IncomingMessage) => {
    refusal = { status: res.statusCode ?? 0 };
    const after = parseRetryAfter(res.headers['retry-after']);
    // A hint past what any gateway sends would overflow the reconnect timer, which then fires at once.
    if (after !== undefined) refusal.retryAfterMs = clampRetryAfter(after);
    res.resume();
    socket.terminate();
  });
  // Connection errors are followed by 'close'; the listener only keeps them from being thrown.
  socket.on('error', () => {});
  socket.once('close', (code, reason) => {
    socket.removeAllListeners();
    events.closed(code, reason.toString(), refusal);
  });
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    abort: () => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.terminate();
    },
  };
}

/** Connects to a sockwarden gateway. See {@link ConnectOptions}; throws `invalid_config` on a bad option. */
export function connect(url: string | URL, options: ConnectOptions = {}): SockwardenClient {
  return new SockwardenClient(nodeSocket, url, options);
}

export { SockwardenError } from '../errors.js';
export type { ClientCloseEvent, ClientErrorEvent, ClientEvents } from './client.js';
export { SockwardenClient } from './client.js';
export type { ClientStatus, ConnectOptions, MessageInfo } from './options.js';
