/**
 * `sockwarden/client` in browsers: the SDK over the native `WebSocket`. Browsers hide the HTTP
 * status of a refused upgrade, so a refusal shows as a close before the welcome frame and is
 * retried with backoff like any failed attempt.
 */

import { CloseCode, SUBPROTOCOL } from '../protocol.js';
import { SockwardenClient } from './client.js';
import type { ConnectOptions } from './options.js';
import type { ClientSocket, SocketEvents } from './socket.js';

/** Opens a native browser WebSocket behind the {@link ClientSocket} port. */
export function browserSocket(url: string, events: SocketEvents): ClientSocket {
  const socket = new globalThis.WebSocket(url, SUBPROTOCOL);
  socket.onopen = () => events.opened();
  socket.onmessage = (event: MessageEvent) => {
    if (typeof event.data === 'string') events.text(event.data);
  };
  socket.onclose = (event: CloseEvent) => {
    detach(socket);
    events.closed(event.code, event.reason);
  };
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    abort: () => {
      // A browser cannot drop a socket without a closing handshake; forget it so no event follows.
      detach(socket);
      socket.close(CloseCode.HeartbeatTimeout, 'no answer to ping');
    },
  };
}

function detach(socket: WebSocket): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
}

/** Connects to a sockwarden gateway. See {@link ConnectOptions}; throws `invalid_config` on a bad option. */
export function connect(url: string | URL, options: ConnectOptions = {}): SockwardenClient {
  return new SockwardenClient(browserSocket, url, options);
}

export { SockwardenError } from '../errors.js';
export type { ClientCloseEvent, ClientErrorEvent, ClientEvents } from './client.js';
export { SockwardenClient } from './client.js';
export type { ClientStatus, ConnectOptions, MessageInfo } from './options.js';
