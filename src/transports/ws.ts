/**
 * The `ws` transport: turns an HTTP upgrade into an admission decision, then either a one-line
 * JSON refusal or a WebSocket whose events feed a core Connection. Nothing here holds policy.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Connection, ConnectionPort } from '../core/connection.js';
import type { Hub } from '../core/hub.js';
import type { Principal } from '../core/ticket.js';
import { SockwardenError } from '../errors.js';
import { diagnostics } from '../observability/diagnostics.js';
import { CloseCode, SESSION_ID_PATTERN, SUBPROTOCOL } from '../protocol.js';
import {
  addressKey,
  clientAddress,
  DEFAULT_IPV6_PREFIX,
  type ProxyTrust,
  proxyTrust,
} from './client-address.js';

/** What an authenticator sees of an upgrade request. */
export interface UpgradeRequest {
  /** The bearer token from `?token=` or `Authorization: Bearer`, if any. */
  token: string | undefined;
  /** The request URL, parsed. */
  url: URL;
  headers: IncomingMessage['headers'];
  /** The client's address: the peer's, or what a trusted proxy forwarded (`trustProxy`). */
  ip: string;
}

/** Where the transport takes client addresses from, and how it groups them for per-IP limits. */
export interface ClientAddressing {
  /** Which peers' forwarding headers are believed; default none. */
  trust: ProxyTrust;
  /** IPv6 clients sharing this prefix count as one address for per-IP limits; default 64. */
  ipv6PrefixLength: number;
}

/** Authenticates an upgrade: returns the principal, or throws to refuse with 401. */
export type Authenticator = (request: UpgradeRequest) => Principal | Promise<Principal>;

/** The port over one `ws` WebSocket. Methods live on the prototype to keep each connection small. */
class WsPort implements ConnectionPort {
  constructor(private readonly socket: WebSocket) {}

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  send(text: string, onFlushed?: () => void): void {
    this.socket.send(text, onFlushed);
  }

  ping(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }
}

/** Writes a refusal before any WebSocket exists: status, `Retry-After`, one-line JSON body. */
export function refuseUpgrade(socket: Duplex, error: SockwardenError): void {
  if (socket.writable) {
    const body = JSON.stringify(error.toJSON());
    const retry =
      error.retryAfterMs === undefined
        ? ''
        : `Retry-After: ${Math.max(1, Math.ceil(error.retryAfterMs / 1000))}\r\n`;
    socket.end(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${retry}\r\n${body}`,
    );
  }
  socket.destroy();
}

function badRequest(field: string, message: string): SockwardenError {
  return new SockwardenError('bad_request', message, { field });
}

/** Reads `session` and `lastSeq` from the query; throws `bad_request` naming the field. */
function resumeParameters(url: URL): { sessionId: string | undefined; lastSeq: number | undefined } {
  const sessionId = url.searchParams.get('session') ?? undefined;
  if (sessionId !== undefined && !SESSION_ID_PATTERN.test(sessionId)) {
    throw badRequest('session', 'query parameter "session" must match [A-Za-z0-9_-]{1,64}');
  }
  const rawSeq = url.searchParams.get('lastSeq');
  let lastSeq: number | undefined;
  if (rawSeq !== null) {
    lastSeq = /^\d{1,15}$/.test(rawSeq) ? Number(rawSeq) : Number.NaN;
    if (!Number.isSafeInteger(lastSeq))
      throw badRequest('lastSeq', 'query parameter "lastSeq" must be a non-negative integer');
  }
  return { sessionId, lastSeq };
}

function bearerToken(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  return url.searchParams.get('token') ?? undefined;
}

function closeCodeOfError(error: Error & { code?: string }): number {
  return error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CloseCode.TooBig : CloseCode.ProtocolError;
}

/**
 * Feeds a socket's events to its connection. A function of its own so that the listeners' closures
 * hold only these two: created inside the upgrade handler, they kept the request alive per socket.
 */
function bindSocket(ws: WebSocket, connection: Connection): void {
  ws.on('message', (data: RawData, isBinary: boolean) =>
    connection.receive(isBinary ? '' : data.toString(), isBinary),
  );
  ws.on('pong', () => connection.pong());
  ws.on('close', (code: number) => connection.closed(code));
  // I1: an error releases in its own handler; ws still finishes the socket itself, bounded by its close timeout.
  ws.on('error', (error: Error) => connection.closed(closeCodeOfError(error)));
}

/** The ws transport for one hub. */
export class WsTransport {
  private readonly server: WebSocketServer;

  constructor(
    private readonly hub: Hub,
    private readonly authenticate: Authenticator,
    private readonly addressing: ClientAddressing = {
      trust: proxyTrust([]),
      ipv6PrefixLength: DEFAULT_IPV6_PREFIX,
    },
  ) {
    this.server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: hub.config.maxPayloadBytes,
      handleProtocols: (offered) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /** Handles one HTTP upgrade: admission first, and a WebSocket only if admitted (I4). */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const gone = new AbortController();
    const onClose = () => gone.abort();
    // A reset during admission must not crash the process.
    const onError = () => gone.abort();
    socket.once('close', onClose);
    socket.on('error', onError);
    const peer = (socket as Duplex & { remoteAddress?: string }).remoteAddress;
    // Read once per upgrade, before admission: limits, logs and the identity all see this address.
    const ip = clientAddress(peer, req.headers, this.addressing.trust);
    let url: URL;
    let resume: ReturnType<typeof resumeParameters>;
    try {
      url = new URL(req.url ?? '/', 'http://gateway.invalid');
      resume = resumeParameters(url);
    } catch (error) {
      socket.off('close', onClose);
      refuseUpgrade(
        socket,
        error instanceof SockwardenError ? error : badRequest('url', 'the upgrade URL is malformed'),
      );
      return;
    }
    const token = bearerToken(req, url);
    const startedAt = performance.now();
    const result = await this.hub.admit({
      ip,
      ipKey: addressKey(ip, this.addressing.ipv6PrefixLength),
      origin: req.headers.origin,
      sessionId: resume.sessionId,
      lastSeq: resume.lastSeq,
      authenticate: () => this.authenticate({ token, url, headers: req.headers, ip }),
      signal: gone.signal,
    });
    socket.off('close', onClose);
    if (diagnostics.admission.hasSubscribers) {
      diagnostics.admission.publish({
        outcome: result.ok ? 'admitted' : result.error.code,
        durationMs: performance.now() - startedAt,
        ip,
      });
    }
    if (!result.ok) {
      refuseUpgrade(socket, result.error);
      return;
    }
    const { ticket } = result;
    if (gone.signal.aborted) {
      // The client left while admission ran: give the slot back, there is nobody to answer.
      ticket.abandon();
      socket.destroy();
      return;
    }
    if (this.hub.draining) {
      ticket.abandon();
      refuseUpgrade(socket, new SockwardenError('draining'));
      return;
    }
    let opened = false;
    // ws answers a malformed handshake itself and never calls back: give the slot back then.
    const abandon = () => {
      if (!opened) ticket.abandon();
    };
    socket.once('close', abandon);
    this.server.handleUpgrade(req, socket, head, (ws) => {
      opened = true;
      socket.off('close', abandon);
      socket.off('error', onError);
      const connection = this.hub.open(ticket, new WsPort(ws));
      bindSocket(ws, connection);
      if (diagnostics.connectionOpen.hasSubscribers) {
        diagnostics.connectionOpen.publish({ identity: ticket.identity, connection });
      }
    });
  }

  /** Closes the underlying ws server. */
  close(): void {
    this.server.close();
  }
}
