/**
 * One admitted WebSocket, transport-free. A transport implements {@link ConnectionPort} and feeds
 * events in; this class owns everything per connection in its Scope: heartbeat and probe timers,
 * idle, lifetime and token-expiry timers, inbound rate, and backpressure waiters.
 */
import {
  type ClientFrame,
  CloseCode,
  errorFrame,
  type ParsedFrame,
  parseClientFrame,
  retryAfterReason,
} from '../protocol.js';
import type { CoreConfig } from './config.js';
import { IdleWatch, scheduleLifetime, scheduleTokenExpiry } from './deadlines.js';
import type { SlotLease } from './engine.js';
import type { Identity } from './identity.js';
import type { Owned, Scope } from './scope.js';
import type { Telemetry, ZombieDetection } from './telemetry.js';
import { TokenBucket } from './token-bucket.js';

/** What a transport implements for one socket. */
export interface ConnectionPort {
  /** Bytes queued in user space and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Queues a text frame; `onFlushed` runs once it has been written out or the socket failed. */
  send(text: string, onFlushed?: () => void): void;
  /** Sends a protocol-level ping. */
  ping(): void;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Destroys the socket without a handshake. */
  terminate(): void;
}

/** What every connection of a hub shares: limits, reporting, time, and where to say it is gone. */
export interface ConnectionContext {
  readonly config: CoreConfig;
  readonly telemetry: Telemetry;
  now(): number;
  /** The socket is gone and everything it owned is released. */
  finished(connection: Connection): void;
}

/**
 * Who a connection reports its frames and its leaving to: its session. Set once when the socket
 * opens, so frames and the detach on close use this handle rather than a key looked up again (I3).
 */
export interface ConnectionOwner {
  /** A valid frame arrived. */
  frame(connection: Connection, frame: ClientFrame): void;
  /** The socket left or the server decided to close it: detach now, so a newer socket can take over. */
  detached(connection: Connection, code: number): void;
}

const RESOLVED_TRUE = Promise.resolve(true);

/** One admitted connection; see the module comment. */
export class Connection {
  /** The close code the server chose, or the one the peer sent. */
  closeCode = 0;
  private state: 'open' | 'closing' | 'finished' = 'open';
  private lastActivityAt: number;
  private pingSentAt = 0;
  private lastPongAt = 0;
  private heartbeatTimer: Owned | null = null;
  private drainWaiters: Array<(accepted: boolean) => void> | null = null;
  private drainHandle: Owned | null = null;
  private probeWaiters: Array<(alive: boolean) => void> | null = null;
  /** Created on the first inbound frame: idle connections never need one. */
  private inbound: TokenBucket | null = null;
  /** Created on the first violation: almost no connection ever commits one. */
  private violations: TokenBucket | null = null;
  // Bound once per connection: heartbeats and idle checks reschedule often, and a fresh arrow each
  // time would be an allocation on every tick of every connection.
  private readonly flushed = () => this.onFlushed();
  private readonly onHeartbeat = () => this.heartbeat();
  private readonly settle = () => this.settleWaiters();

  constructor(
    readonly identity: Identity,
    private readonly port: ConnectionPort,
    readonly scope: Scope,
    private readonly lease: SlotLease,
    private readonly context: ConnectionContext,
    private readonly owner: ConnectionOwner,
    /** When the token expires (ms since epoch), or 0 when it does not. */
    tokenExpiresAt: number,
  ) {
    const { config } = context;
    const now = context.now();
    this.lastActivityAt = now;
    scope.own('connection', this.settle);
    this.heartbeatTimer = scope.timer(config.heartbeatIntervalMs, this.onHeartbeat);
    if (config.idleTimeoutMs > 0) new IdleWatch(this, scope, config, context);
    if (config.maxLifetimeMs > 0)
      scheduleLifetime(this, scope, config.warningBeforeCloseMs, config.maxLifetimeMs);
    if (tokenExpiresAt > 0)
      scheduleTokenExpiry(this, scope, config.warningBeforeCloseMs, tokenExpiresAt - now);
  }

  /** Whether the socket is open and not being closed. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Whether the buffer is under the high-water mark, so a producer may send more now. */
  get writable(): boolean {
    return this.state === 'open' && this.port.bufferedAmount <= this.context.config.highWaterMarkBytes;
  }

  /** Whether a heartbeat ping is waiting for its pong. */
  get awaitingPong(): boolean {
    return this.pingSentAt !== 0;
  }

  /** When the last application message went either way. */
  get quietSince(): number {
    return this.lastActivityAt;
  }

  /** Bytes waiting to be written. */
  get bufferedAmount(): number {
    return this.port.bufferedAmount;
  }

  /**
   * Sends a frame. Resolves once the buffer is under the high-water mark, so a producer that awaits
   * it is paced by the reader. Past `maxBufferedBytes` the connection closes 4001 and the session
   * keeps the frame for resumption.
   */
  send(frame: string, activity = true): Promise<boolean> {
    if (this.state !== 'open') return RESOLVED_TRUE;
    if (activity) this.lastActivityAt = this.context.now();
    this.port.send(frame, this.flushed);
    const buffered = this.port.bufferedAmount;
    if (buffered > this.context.config.maxBufferedBytes) {
      this.end(CloseCode.SlowConsumer, retryAfterReason(0));
      return RESOLVED_TRUE;
    }
    if (buffered <= this.context.config.highWaterMarkBytes) return RESOLVED_TRUE;
    return new Promise((resolve) => {
      if (!this.drainWaiters) {
        this.drainWaiters = [];
        this.drainHandle = this.scope.own('waiter', this.settle);
      }
      this.drainWaiters.push(resolve);
    });
  }

  /** Sends a non-fatal error frame. */
  sendError(code: string, message: string, ref?: string, retryAfterMs?: number): void {
    this.send(
      errorFrame(code, message, {
        ...(ref === undefined ? {} : { ref }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }),
      false,
    );
  }

  /** Handles one inbound frame from the transport. */
  receive(text: string, isBinary: boolean): void {
    if (this.state !== 'open') return;
    // Counted before the rate and shape checks: what a client sends costs the node either way.
    this.context.telemetry.throughput('received', 1, text.length);
    const now = this.context.now();
    this.inbound ??= new TokenBucket(this.context.config.inboundRatePerConnection, now);
    if (!this.inbound.take(now)) {
      this.violation('rate_limited', 'too many messages; slow down', this.inbound.msUntilToken(now));
      return;
    }
    const parsed: ParsedFrame = isBinary
      ? { ok: false, reason: 'binary frames are not part of sockwarden.v1' }
      : parseClientFrame(text);
    if (!parsed.ok) {
      this.violation('bad_frame', parsed.reason);
      return;
    }
    if (parsed.frame.type === 'message') this.lastActivityAt = now;
    this.owner.frame(this, parsed.frame);
  }

  /** The transport saw a pong. */
  pong(): void {
    const now = this.context.now();
    this.lastPongAt = now;
    const probes = this.probeWaiters;
    this.probeWaiters = null;
    if (probes) for (const resolve of probes) resolve(true);
    if (this.pingSentAt === 0 || this.state !== 'open') return;
    const next = Math.max(0, this.pingSentAt + this.context.config.heartbeatIntervalMs - now);
    this.pingSentAt = 0;
    this.heartbeatTimer?.dispose();
    this.heartbeatTimer = this.scope.timer(next, this.onHeartbeat);
  }

  /**
   * Asks the peer to prove it is alive within `timeoutMs`. Resolves false for a zombie. A pong
   * seen within the last `timeoutMs` counts as proof without a new ping.
   */
  probe(timeoutMs: number): Promise<boolean> {
    if (this.state !== 'open') return Promise.resolve(false);
    if (this.lastPongAt > 0 && this.context.now() - this.lastPongAt < timeoutMs) return RESOLVED_TRUE;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (alive: boolean) => {
        if (settled) return;
        settled = true;
        timer.dispose();
        guard.dispose();
        resolve(alive);
      };
      const timer = this.scope.timer(timeoutMs, () => settle(false));
      // If the connection goes away first, the prober still gets an answer.
      const guard = this.scope.own('waiter', () => settle(false));
      if (!this.probeWaiters) {
        this.probeWaiters = [];
        this.port.ping();
      }
      this.probeWaiters.push(settle);
    });
  }

  /**
   * Closes from the server side with `code`. The slot is released and the session detached now,
   * so the user's next connection is not blocked by this one's closing handshake.
   */
  end(code: number, reason = ''): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeCode = code;
    this.lease.release();
    this.owner.detached(this, code);
    this.port.close(code, reason);
    // A peer that never answers the close frame must not hold the socket forever.
    this.scope.timer(this.context.config.closeTimeoutMs, () => this.terminate());
  }

  /** Removes a zombie now: no handshake, everything released in this call. */
  removeZombie(via: ZombieDetection): void {
    if (this.state === 'finished') return;
    this.context.telemetry.zombie(this.identity, via);
    if (this.state === 'open') this.closeCode = CloseCode.HeartbeatTimeout;
    this.terminate();
  }

  /** Destroys the socket without a handshake and releases everything now. */
  terminate(): void {
    this.port.terminate();
    this.closed(this.closeCode || CloseCode.GoingAway);
  }

  /** The transport's close or error event (invariant I1): releases everything in this handler. */
  closed(code: number): void {
    if (this.state === 'finished') return;
    const startedAt = performance.now();
    const wasOpen = this.state === 'open';
    this.state = 'finished';
    if (this.closeCode === 0) this.closeCode = code;
    this.lease.release();
    if (wasOpen) this.owner.detached(this, this.closeCode);
    this.scope.dispose();
    this.context.finished(this);
    this.context.telemetry.closed(this.identity, this.closeCode, performance.now() - startedAt);
  }

  private heartbeat(): void {
    if (this.state !== 'open') return;
    if (this.pingSentAt !== 0) {
      this.removeZombie('heartbeat');
      return;
    }
    this.pingSentAt = this.context.now();
    this.port.ping();
    this.heartbeatTimer = this.scope.timer(this.context.config.pongTimeoutMs, this.onHeartbeat);
  }

  private violation(code: 'bad_frame' | 'rate_limited', message: string, retryAfterMs?: number): void {
    this.context.telemetry.inboundRejected(this.identity, code);
    const { maxViolations } = this.context.config;
    this.violations ??= new TokenBucket(
      { perSecond: maxViolations / 60, burst: maxViolations },
      this.context.now(),
    );
    if (!this.violations.take(this.context.now())) {
      this.end(CloseCode.ProtocolViolation, code);
      return;
    }
    this.sendError(code, message, undefined, retryAfterMs);
  }

  private onFlushed(): void {
    if (this.drainWaiters && this.port.bufferedAmount <= this.context.config.highWaterMarkBytes) {
      this.drainHandle?.dispose();
    }
  }

  private settleWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = null;
    this.drainHandle = null;
    // Frames still buffered live in the session's replay ring, so the producer may carry on.
    if (waiters) for (const resolve of waiters) resolve(true);
  }
}
