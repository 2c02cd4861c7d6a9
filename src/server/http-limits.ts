/**
 * Bounds on the HTTP side of `sockwarden serve`, against clients on the open port that never finish
 * a request or never read the answers. The WebSocket side has its own (admission, rates, buffers);
 * these keep plain HTTP requests from holding sockets, memory and the event loop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { GC_MIN_INTERVAL_MS } from './garbage-collection.js';
import { METRICS_CACHE_MS } from './metrics-cache.js';

/** The HTTP server's timeouts and per-socket bounds. */
export interface HttpServerLimits {
  /** Time a client has to send a request's headers (ms); Node's default is 60 s. */
  headersTimeoutMs: number;
  /** Time a client has to send a whole request, body included (ms); Node's default is 300 s. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive socket waits for its next request (ms). */
  keepAliveTimeoutMs: number;
  /** How often Node looks for requests past their timeouts (ms): a socket may outlive one by this. */
  timeoutCheckIntervalMs: number;
  /** Requests a socket may have unanswered (pipelined) at once; one more disconnects it. */
  maxUnansweredPerSocket: number;
  /** Answer bytes a socket may leave unread; a request arriving past this disconnects it. */
  maxUnreadAnswerBytes: number;
  /** How long a rendered `/metrics` text is served again (ms). */
  metricsCacheMs: number;
  /** Shortest time between two collections of `POST /api/gc` (ms). */
  gcMinIntervalMs: number;
}

/**
 * The defaults. Headers and bodies are small (a sign-in form, an API body of at most
 * maxPayloadBytes), so seconds are plenty even on a slow link. A WebSocket upgrade is bound by the
 * header timeout only until it is upgraded, and the dashboard's event stream is a request that has
 * been received in full, so neither is cut by these.
 */
export const HTTP_SERVER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  timeoutCheckIntervalMs: 1_000,
  maxUnansweredPerSocket: 16,
  maxUnreadAnswerBytes: 1024 * 1024,
  metricsCacheMs: METRICS_CACHE_MS,
  gcMinIntervalMs: GC_MIN_INTERVAL_MS,
};

/** Logs at most one line per this many ms about disconnected pipeliners. */
const WARNING_INTERVAL_MS = 10_000;

/**
 * Counts each socket's unanswered requests. Node's HTTP server parses every request of a chunk
 * before the first answer is written, so a client that pipelines thousands of requests and never
 * reads would get thousands of answers built and queued in memory; this disconnects it instead,
 * as soon as one request too many arrives or its unread answers pass the bound. Browsers and
 * scrapers do not pipeline that deep.
 */
export class PipeliningGuard {
  private readonly unanswered = new WeakMap<Socket, number>();
  private lastWarningAt = Number.NEGATIVE_INFINITY;
  private disconnectedSinceWarning = 0;

  constructor(
    private readonly limits: Pick<HttpServerLimits, 'maxUnansweredPerSocket' | 'maxUnreadAnswerBytes'>,
    private readonly logger: Logger,
  ) {}

  /** Whether to answer `req`: false when its socket is (now) disconnected, and nothing must be done. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket;
    if (socket.destroyed) return false;
    const count = (this.unanswered.get(socket) ?? 0) + 1;
    if (
      count > this.limits.maxUnansweredPerSocket ||
      socket.writableLength > this.limits.maxUnreadAnswerBytes
    ) {
      this.warn(socket, count - 1);
      socket.destroy();
      return false;
    }
    this.unanswered.set(socket, count);
    res.once('close', () => {
      const left = (this.unanswered.get(socket) ?? 1) - 1;
      if (left > 0) this.unanswered.set(socket, left);
      else this.unanswered.delete(socket);
    });
    return true;
  }

  private warn(socket: Socket, unanswered: number): void {
    this.disconnectedSinceWarning++;
    const now = performance.now();
    if (now - this.lastWarningAt < WARNING_INTERVAL_MS) return;
    this.logger.warn(
      {
        address: socket.remoteAddress,
        unanswered,
        unreadBytes: socket.writableLength,
        disconnected: this.disconnectedSinceWarning,
      },
      'HTTP clients pipelined requests without reading the answers: disconnected',
    );
    this.lastWarningAt = now;
    this.disconnectedSinceWarning = 0;
  }
}
