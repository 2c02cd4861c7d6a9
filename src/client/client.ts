/**
 * The client state machine: connect, resume, dedupe, heartbeat and paced reconnects, over any
 * {@link SocketFactory}. Every timer and socket it starts is tracked in a field and cleared on the
 * transition that makes it useless, so `close()` leaves nothing running.
 */
import { SockwardenError } from '../errors.js';
import {
  CloseCode,
  encodeClientFrame,
  isReconnectable,
  parseServerFrame,
  type ServerFrame,
  type WelcomeFrame,
} from '../protocol.js';
import { fullJitterDelay, retryHintOf } from './backoff.js';
import type { ClientErrorEvent, ClientEvents } from './client-events.js';
import { Emitter, type Unsubscribe } from './emitter.js';
import {
  type ClientStatus,
  type ConnectOptions,
  type MessageInfo,
  type ResolvedClientOptions,
  resolveClientOptions,
} from './options.js';
import { Outbox } from './outbox.js';
import type { ClientSocket, SocketFactory, UpgradeRefusal } from './socket.js';
import { Watchdog } from './watchdog.js';

export type { ClientCloseEvent, ClientErrorEvent, ClientEvents } from './client-events.js';

type Timer = ReturnType<typeof setTimeout>;

/** A connection to a sockwarden gateway that reconnects and resumes by itself. */
export class SockwardenClient {
  private readonly options: ResolvedClientOptions;
  private readonly emitter = new Emitter<ClientEvents>((error) => this.listenerFailed(error));
  private readonly outbox: Outbox;
  private currentStatus: ClientStatus = 'connecting';
  private sessionId: string | undefined;
  private seq: number;
  /** Whether the next welcome answers a resume request (a gap could be lost). */
  private resuming: boolean;
  private socket: ClientSocket | null = null;
  /** Bumped for every dial: events of an older socket are ignored. */
  private generation = 0;
  private welcomed = false;
  private attempt = 0;
  private openedAt = 0;
  private ackedSeq = 0;
  private nextId = 0;
  private readonly idPrefix: string;
  private retryTimer: Timer | null = null;
  private watchdog: Watchdog | null = null;
  private ackTimer: Timer | null = null;

  constructor(
    private readonly factory: SocketFactory,
    url: string | URL,
    options: ConnectOptions = {},
  ) {
    this.options = resolveClientOptions(url, options);
    this.outbox = new Outbox(this.options.maxQueuedMessages);
    this.sessionId = this.options.session;
    this.seq = this.options.lastSeq;
    this.ackedSeq = this.seq;
    this.resuming = this.options.lastSeq > 0;
    this.idPrefix = Math.floor(this.options.random() * 2 ** 32).toString(36);
    if (options.onMessage) {
      const onMessage = options.onMessage;
      this.on('message', ({ data, seq }) => onMessage(data, { seq } satisfies MessageInfo));
    }
    if (options.onStatus) this.on('status', options.onStatus);
    void this.dial();
  }

  /** `connecting`, `open`, `reconnecting` or `closed`. */
  get status(): ClientStatus {
    return this.currentStatus;
  }

  /** The session id, known from the first welcome frame on (or the one passed in). */
  get session(): string | undefined {
    return this.sessionId;
  }

  /** The last sequence number received; persist it with `session` to resume after a page reload. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Adds an event listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): Unsubscribe {
    return this.emitter.on(event, listener);
  }

  /** Removes an event listener. */
  off<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  /**
   * Sends application data. Resolves with the message id (the `ref` of any `error` frame about it)
   * once the frame is written to the socket. While disconnected it waits in a bounded queue;
   * rejects with `send_queue_full` past the bound, `client_closed` after `close()` or a final close,
   * and `invalid_data` when `data` is not JSON.
   */
  send(data: unknown, options: { id?: string } = {}): Promise<string> {
    if (this.currentStatus === 'closed')
      return Promise.reject(new SockwardenError('client_closed', 'the client is closed; connect again'));
    const id = options.id ?? `${this.idPrefix}-${++this.nextId}`;
    let text: string;
    try {
      text = encodeClientFrame({ type: 'message', id, data });
    } catch (cause) {
      return Promise.reject(
        new SockwardenError('invalid_data', `send: data cannot be serialized as JSON (${String(cause)})`, {
          cause,
        }),
      );
    }
    if (this.socket && this.welcomed) {
      this.socket.send(text);
      return Promise.resolve(id);
    }
    return this.outbox.enqueue(text, id);
  }

  /**
   * Drops the current socket and reconnects at once, resuming the session: for a network change the
   * application knows about before the heartbeat does. The server keeps the session (close 4000).
   */
  reconnect(): void {
    if (this.currentStatus === 'closed') return;
    const socket = this.socket;
    this.generation++;
    this.socket = null;
    socket?.close(CloseCode.HeartbeatTimeout, 'client reconnect');
    this.clearConnectionTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.welcomed = false;
    this.setStatus('reconnecting');
    this.emitter.emit('close', {
      code: CloseCode.HeartbeatTimeout,
      reason: 'reconnect requested',
      willReconnect: true,
      retryInMs: 0,
    });
    void this.dial();
  }

  /**
   * Closes for good: ends the session on the server (close 1000), rejects queued sends, clears
   * every timer. After the final `close` event no listener remains.
   */
  close(code: number = CloseCode.Normal, reason = 'client closed'): void {
    if (this.currentStatus === 'closed') return;
    const socket = this.socket;
    this.finish(new SockwardenError('client_closed', 'close() was called'));
    if (socket) {
      this.socket = null;
      socket.close(code, reason);
    }
    this.emitter.emit('close', { code, reason, willReconnect: false });
    this.emitter.clear();
  }

  private async dial(): Promise<void> {
    const generation = ++this.generation;
    this.welcomed = false;
    let token = this.options.token;
    const getToken = this.options.getToken;
    if (getToken) {
      try {
        // Called from a microtask, so listeners added right after connect() see a failure.
        token = await Promise.resolve().then(getToken);
      } catch (cause) {
        if (generation !== this.generation || this.currentStatus === 'closed') return;
        this.reportError('token_unavailable', `getToken failed: ${String(cause)}`);
        this.afterClose(1006, 'getToken failed', false, undefined);
        return;
      }
      if (generation !== this.generation || this.currentStatus === 'closed') return;
    }
    const url = new URL(this.options.url);
    for (const [key, value] of Object.entries(this.options.params)) url.searchParams.set(key, value);
    if (token !== undefined) url.searchParams.set('token', token);
    if (this.sessionId !== undefined) {
      url.searchParams.set('session', this.sessionId);
      if (this.seq > 0) url.searchParams.set('lastSeq', String(this.seq));
    }
    const current = () => generation === this.generation && this.currentStatus !== 'closed';
    try {
      this.socket = this.factory(url.toString(), {
        opened: () => {},
        text: (data) => {
          if (current()) this.received(data);
        },
        closed: (code, reason, refusal) => {
          if (!current()) return;
          this.socket = null;
          this.afterClose(code, reason, this.welcomed, refusal);
        },
      });
    } catch (cause) {
      // A browser throws here for a blocked URL (mixed content, CSP): report it and back off.
      // Reported from a microtask: on the first attempt connect() has not even returned yet.
      queueMicrotask(() =>
        this.reportError('connect_failed', `the WebSocket could not be created: ${String(cause)}`),
      );
      this.afterClose(1006, 'connect failed', false);
    }
  }

  private received(text: string): void {
    this.watchdog?.received();
    let frame: ServerFrame | null;
    try {
      frame = parseServerFrame(text);
    } catch {
      this.reportError('bad_frame', 'the server sent a frame that is not JSON');
      return;
    }
    switch (frame?.type) {
      case 'welcome':
        this.welcome(frame);
        return;
      case 'message':
        if (frame.seq <= this.seq) return; // a replayed duplicate
        this.seq = frame.seq;
        this.scheduleAck();
        this.emitter.emit('message', { data: frame.data, seq: frame.seq });
        return;
      case 'warning':
        this.emitter.emit('warning', { reason: frame.reason, closeInMs: frame.closeInMs });
        return;
      case 'error': {
        const event: ClientErrorEvent = { code: frame.code, message: frame.message, source: 'server' };
        if (frame.retryAfterMs !== undefined) event.retryAfterMs = frame.retryAfterMs;
        if (frame.ref !== undefined) event.ref = frame.ref;
        this.emitter.emit('error', event);
        return;
      }
    }
  }

  private welcome(frame: WelcomeFrame): void {
    const { session, resumed } = frame;
    const failure = frame.resumeFailed;
    const fromSeq = this.seq;
    const askedToResume = this.resuming;
    // NaN when the welcome carried no seq.
    if (!resumed || failure !== undefined) this.seq = frame.seq || 0;
    this.ackedSeq = Math.min(this.ackedSeq, this.seq);
    this.sessionId = session;
    this.resuming = true;
    this.welcomed = true;
    this.openedAt = Date.now();
    const heartbeatMs = this.options.heartbeatMs ?? Math.max(1, frame.heartbeatMs || 25_000);
    const socket = this.socket;
    if (socket) this.outbox.flush((text) => socket.send(text));
    // Timers are armed before any listener runs: a listener that calls close() then clears them.
    this.watchdog?.stop();
    this.watchdog = new Watchdog(heartbeatMs, this.options.pongTimeoutMs, {
      ping: () => socket?.send(encodeClientFrame({ type: 'ping' })),
      dead: () => {
        this.generation++;
        this.socket = null;
        socket?.abort();
        this.afterClose(CloseCode.HeartbeatTimeout, 'no answer to ping from the server', true);
      },
    });
    this.setStatus('open');
    this.emitter.emit('open', { session, resumed });
    if (!askedToResume) return;
    if (resumed && failure === undefined) this.emitter.emit('resumed', { session, fromSeq });
    else this.emitter.emit('resume_failed', { session, reason: failure ?? 'unknown' });
  }

  private afterClose(code: number, reason: string, wasOpen: boolean, refusal?: UpgradeRefusal): void {
    this.clearConnectionTimers();
    this.welcomed = false;
    if (wasOpen && Date.now() - this.openedAt >= this.options.stableAfterMs) this.attempt = 0;
    // A refused upgrade is reported, not just a 1006 close. A 401 or 403 would refuse the same token
    // forever, so without getToken to fetch a fresh one the client stops instead of retrying.
    const authRefused = this.reportRefusal(refusal);
    // Before a welcome nothing was decided by the server: it is a failed attempt, retried with backoff.
    const retry = !authRefused && (!wasOpen || isReconnectable(code));
    if (!retry || this.attempt >= this.options.maxReconnectAttempts) {
      this.finish(
        new SockwardenError('client_closed', `the connection closed with ${code} and will not reconnect`),
      );
      this.emitter.emit('close', { code, reason, willReconnect: false, ...(refusal ? { refusal } : {}) });
      this.emitter.clear();
      return;
    }
    const backoff = fullJitterDelay(this.attempt, this.options.backoff, this.options.random);
    const hint = wasOpen ? retryHintOf(reason) : undefined;
    let delay = hint ?? backoff;
    if (refusal?.retryAfterMs !== undefined) delay = refusal.retryAfterMs + backoff;
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.dial();
    }, delay);
    this.setStatus('reconnecting');
    this.emitter.emit('close', {
      code,
      reason,
      willReconnect: true,
      retryInMs: delay,
      ...(refusal ? { refusal } : {}),
    });
  }

  /** Emits `error` for a refused upgrade; true when it refused the credentials and no fresh ones can come. */
  private reportRefusal(refusal: UpgradeRefusal | undefined): boolean {
    if (!refusal) return false;
    const { status } = refusal;
    const auth = status === 401 || status === 403;
    const final = auth && this.options.getToken === undefined;
    const said = refusal.message || `the gateway refused the upgrade with HTTP ${status}`;
    this.emitter.emit('error', {
      code: refusal.code ?? (status === 401 ? 'unauthenticated' : 'upgrade_refused'),
      message: final
        ? `${said}; not reconnecting: the same token would be refused again (pass getToken to retry with a fresh one)`
        : said,
      source: 'server',
      status,
      ...(refusal.retryAfterMs === undefined ? {} : { retryAfterMs: refusal.retryAfterMs }),
    });
    return final;
  }

  private scheduleAck(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      if (this.socket && this.welcomed && this.seq > this.ackedSeq) {
        this.ackedSeq = this.seq;
        this.socket.send(encodeClientFrame({ type: 'ack', seq: this.seq }));
      }
    }, this.options.ackDelayMs);
  }

  private clearConnectionTimers(): void {
    this.watchdog?.stop();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.watchdog = null;
    this.ackTimer = null;
  }

  /** The final transition: status closed, no timers, queued sends rejected. */
  private finish(error: SockwardenError): void {
    this.clearConnectionTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.generation++;
    this.outbox.fail(error);
    this.setStatus('closed');
  }

  private setStatus(status: ClientStatus): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.emitter.emit('status', status);
  }

  private reportError(code: string, message: string): void {
    this.emitter.emit('error', { code, message, source: 'client' });
  }

  private listenerFailed(error: unknown): void {
    // A throwing application listener must not break the client; surface it where it is visible.
    queueMicrotask(() => {
      throw error;
    });
  }
}
