/**
 * A raw TCP soak peer: it completes the WebSocket handshake by hand and then misbehaves below the
 * level any WebSocket library allows. `silent` reads and discards everything but never answers a
 * ping; `slow` stops reading altogether, so the server's send buffer for it can only grow.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { SUBPROTOCOL } from '../protocol.js';
import { bump } from './counters.js';
import type { PeerHost } from './ws-peer.js';

/** One raw TCP peer. */
export class RawPeer {
  state: 'connecting' | 'open' | 'ended' = 'connecting';
  /** When the handshake completed. */
  openedAt = 0;
  /** Whether the server cut it (or, for a slow peer, stopped delivering to it). */
  detected = false;
  private socket: Socket | null = null;

  constructor(
    private readonly host: PeerHost,
    readonly kind: 'silent' | 'slow',
    readonly user: string,
    readonly session: string,
    /** Called once the handshake is done, so a slow peer's flood can begin. */
    private readonly onOpen: (peer: RawPeer) => void = () => {},
  ) {}

  /** Opens the TCP connection and sends the upgrade request. */
  start(): void {
    void this.host.urlFor(this.user, this.session).then(
      (text) => this.dial(new URL(text)),
      (error: Error) => this.fail(`token: ${error.message}`),
    );
  }

  private dial(url: URL): void {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 80),
      localAddress: this.host.nextAddress(),
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
    );
    let head = '';
    const onData = (chunk: Buffer) => {
      if (this.state !== 'connecting') return;
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const status = Number(head.slice(9, 12));
      if (status !== 101) {
        bump(this.host.counters.refused, String(status));
        socket.destroy();
        return;
      }
      this.state = 'open';
      this.openedAt = Date.now();
      this.host.counters.opened[this.kind]++;
      this.host.counters.open++;
      // From here on a slow peer never reads again; a silent one reads and ignores.
      if (this.kind === 'slow') socket.pause();
      this.onOpen(this);
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => this.closed());
  }

  private closed(): void {
    if (this.state === 'ended') return;
    const counters = this.host.counters;
    if (this.state === 'open') {
      counters.open--;
      bump(counters.ended.byServer, `cut (${this.kind} peer)`);
      if (!this.detected && this.kind === 'silent')
        counters.detectionMs.silent.push(Date.now() - this.openedAt);
      this.detected = true;
    } else counters.failed++;
    this.state = 'ended';
    this.host.ended(this);
  }

  private fail(message: string): void {
    bump(this.host.counters.errors, message);
    this.state = 'ended';
    this.host.ended(this);
  }

  /** The slow peer's flood found it cut; drop the socket without counting it as the server's close. */
  markDetected(): void {
    this.detected = true;
  }

  /** Ends it from our side; a peer the server never cut counts as undetected. */
  destroy(): void {
    if (this.state === 'ended') return;
    if (this.state === 'open') {
      const counters = this.host.counters;
      counters.open--;
      if (this.detected) bump(counters.ended.byServer, `cut (${this.kind} peer)`);
      else {
        counters.undetected[this.kind]++;
        counters.ended.abrupt++;
      }
    }
    this.state = 'ended';
    this.socket?.destroy();
    this.host.ended(this);
  }
}
