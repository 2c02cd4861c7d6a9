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

/** Largest refusal body read, and how long to wait for it: a gateway's is under 300 bytes. */
const BODY_LIMIT = 4096;
const BODY_TIMEOUT_MS = 2000;

/** The `error` and `message` of a refusal's JSON body, when it has them. */
function refusalBody(res: IncomingMessage): Promise<{ code: string; message: string } | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => {
      clearTimeout(timer);
      res.removeAllListeners('data');
      res.resume();
      try {
        const body = JSON.parse(text) as { error?: unknown; message?: unknown };
        resolve(
          typeof body.error === 'string'
            ? { code: body.error, message: typeof body.message === 'string' ? body.message : '' }
            : undefined,
        );
      } catch {
        resolve(undefined);
      }
    };
    const timer = setTimeout(done, BODY_TIMEOUT_MS);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > BODY_LIMIT) done();
    });
    res.once('end', done);
    res.once('error', done);
  });
}

/** Opens a `ws` WebSocket behind the {@link ClientSocket} port. */
export function nodeSocket(url: string, events: SocketEvents): ClientSocket {
  const socket = new WebSocket(url, SUBPROTOCOL);
  let refusal: UpgradeRefusal | undefined;
  socket.on('open', () => events.opened());
  socket.on('message', (data, isBinary) => {
    if (!isBinary) events.text(data.toString());
  });
  socket.on('unexpected-response', (_req, res: IncomingMessage) => {
    const seen: UpgradeRefusal = { status: res.statusCode ?? 0 };
    refusal = seen;
    const after = parseRetryAfter(res.headers['retry-after']);
    // A hint past what any gateway sends would overflow the reconnect timer, which then fires at once.
    if (after !== undefined) seen.retryAfterMs = clampRetryAfter(after);
    // The gateway says why in a small JSON body ({"error","message"}): read it, bounded in size and
    // time, so a 401 reaches the application as "unauthenticated: the token has expired".
    void refusalBody(res).then((body) => {
      if (body) Object.assign(seen, body);
      socket.terminate();
    });
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
