/**
 * A session: one logical conversation that outlives its socket for `resumeWindowMs`. It numbers
 * outgoing messages, keeps them in a bounded replay ring, replays exactly the gap on resume, and
 * hands over to a newer socket of the same session (takeover, close 4100).
 */
import { SockwardenError } from '../errors.js';
import {
  type ClientFrame,
  CloseCode,
  keepsSessionAfterClose,
  messageFrame,
  PONG_FRAME,
  type ResumeFailure,
  welcomeFrame,
} from '../protocol.js';
import type { CoreConfig } from './config.js';
import type { Identity } from './identity.js';
import { ReplayRing } from './replay-ring.js';
import type { Owned, Scope } from './scope.js';
import { SESSION_END_REASONS, type SessionEndReason } from './session-end.js';
import type { ClaimedSession, SessionStore } from './session-store.js';
import type { Telemetry } from './telemetry.js';
import type { UpstreamCall, UpstreamRunner } from './upstream.js';

/** What a message handler gets besides the data. */
export interface MessageContext {
  /** The client's id for the message, when it gave one. */
  readonly id?: string;
  /** Aborts when the session ends: pass it to every call made on the session's behalf. */
  readonly signal: AbortSignal;
  /** The session the message arrived on. */
  readonly session: Session;
}

/** Handles one client message. A returned promise is awaited only to report its failure. */
export type MessageHandler = (data: unknown, ctx: MessageContext) => void | Promise<void>;

/** A session as the application sees it. */
export interface Session {
  /** User id from authentication. */
  readonly user: string;
  /** Session id. */
  readonly id: string;
  /** Whether a socket is attached and its buffer is under the high-water mark. */
  readonly writable: boolean;
  /** Whether the session has ended. */
  readonly ended: boolean;
  /** Owns timers, abort controllers and disposers that must end with the session. */
  readonly scope: Scope;
  /** Sequence number of the last message sent. */
  readonly seq: number;
  /**
   * Sends `data` as the next sequenced message and keeps it for replay. Resolves true once the
   * connection's buffer is under its high-water mark (await it to follow backpressure), or at once
   * while no socket is attached; resolves false when the session has ended and nothing was sent.
   * Throws `invalid_data` when `data` is not JSON-serializable.
   */
  send(data: unknown): Promise<boolean>;
  /** Registers a message handler; returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void;
  /** Ends the session now and closes its socket with `code` (default 4103). */
  close(code?: number, reason?: string): void;
  /**
   * Runs an upstream call owned by this session, through the gateway's governor: bounded in
   * concurrency, rate, attempts and time, and aborted when the session ends. Rejects with a
   * SockwardenError coded `busy`, `rate_limited`, `backend_unavailable` or `upstream_cancelled`.
   */
  run<T>(call: UpstreamCall<T>, options?: { upstream?: string }): Promise<T>;
  /**
   * Sends a non-fatal `error` frame to the attached socket, if any. Error frames are not sequenced
   * and not replayed: they concern the connection that is there now. Returns whether one was sent.
   */
  sendError(code: string, message: string, extra?: { retryAfterMs?: number; ref?: string }): boolean;
}

/**
 * The session's view of its socket: what it needs to send, warn and close. The connection
 * satisfies it without either module importing the other.
 */
export interface SessionSocket {
  readonly identity: Identity;
  /** Whether the socket is open and not being closed. */
  readonly open: boolean;
  /** Whether the socket's buffer is under the high-water mark. */
  readonly writable: boolean;
  /** Sends a frame; resolves once the buffer is under the high-water mark. */
  send(frame: string, activity?: boolean): Promise<boolean>;
  /** Sends a non-fatal error frame. */
  sendError(code: string, message: string, ref?: string, retryAfterMs?: number): void;
  /** Closes from the server side with `code`. */
  end(code: number, reason?: string): void;
}

/** Callbacks from a session to the hub. */
export interface SessionHost {
  readonly config: CoreConfig;
  readonly telemetry: Telemetry;
  now(): number;
  /** The session ended and released its state; forget it. */
  ended(session: SessionState, reason: SessionEndReason): void;
  /** Runs upstream calls for sessions. */
  readonly runUpstream: UpstreamRunner;
  /** The engine's session store: where the session's life is reported, locally or for the cluster. */
  readonly store: SessionStore;
}

const RESOLVED_TRUE = Promise.resolve(true);
const RESOLVED_FALSE = Promise.resolve(false);

/** Serializes application data once, with a clear error for what JSON cannot carry. */
export function toJson(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (cause) {
    throw new SockwardenError(
      'invalid_data',
      `data cannot be serialized as JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (json === undefined)
    throw new SockwardenError('invalid_data', `data of type ${typeof data} has no JSON form`);
  return json;
}

/**
 * The session implementation; see the module comment. It is also the owner its sockets report to:
 * their frames and their leaving come here, so the hub never looks a socket's session up again.
 */
export class SessionState implements Session {
  readonly user: string;
  readonly id: string;
  private lastSeq = 0;
  private readonly ring: ReplayRing;
  private socket: SessionSocket | null = null;
  private handlers: MessageHandler[] = [];
  private resumeTimer: Owned | null = null;
  private isEnded = false;
  /** When the session last lost its socket, for picking the oldest detached session. */
  detachedAt = 0;

  constructor(
    /** Identity of the connection that created the session; its key is the registry key. */
    readonly identity: Identity,
    readonly scope: Scope,
    private readonly host: SessionHost,
    /** State of a session that moved here from another node. */
    claimed?: Pick<ClaimedSession, 'latestSeq' | 'frames'>,
  ) {
    this.user = identity.user;
    this.id = identity.session;
    this.ring = new ReplayRing(host.config.replay);
    if (claimed) {
      for (const [seq, frame] of claimed.frames) this.ring.push(seq, frame);
      // Frames the client acknowledged on the old node are gone; the ring starts after them.
      this.lastSeq = claimed.latestSeq;
      if (claimed.frames.length === 0) this.ring.ackUpTo(claimed.latestSeq);
    }
    scope.own('session', () => this.ring.clear());
  }

  get writable(): boolean {
    return this.socket?.writable ?? false;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** The attached socket, if any. */
  get attached(): SessionSocket | null {
    return this.socket;
  }

  /** Bytes held in the replay ring. */
  get replayBytes(): number {
    return this.ring.retainedBytes;
  }

  send(data: unknown): Promise<boolean> {
    if (this.isEnded) return RESOLVED_FALSE;
    return this.sendJson(toJson(data));
  }

  /** Sends data that is already JSON text; publish serializes once for many sessions. */
  sendJson(json: string): Promise<boolean> {
    if (this.isEnded) return RESOLVED_FALSE;
    const seq = ++this.lastSeq;
    const frame = messageFrame(seq, json);
    this.ring.push(seq, frame);
    this.host.store.sent(this.user, this.id, seq, frame);
    if (!this.socket) return RESOLVED_TRUE;
    // Only what reaches a socket counts as sent; a frame kept for a resume counts when replayed.
    this.host.telemetry.throughput('sent', 1, frame.length);
    return this.socket.send(frame);
  }

  onMessage(handler: MessageHandler): () => void {
    this.handlers.push(handler);
    return () => {
      this.handlers = this.handlers.filter((h) => h !== handler);
    };
  }

  sendError(code: string, message: string, extra: { retryAfterMs?: number; ref?: string } = {}): boolean {
    const socket = this.socket;
    if (!socket?.open) return false;
    socket.sendError(code, message, extra.ref, extra.retryAfterMs);
    return true;
  }

  run<T>(call: UpstreamCall<T>, options: { upstream?: string } = {}): Promise<T> {
    return this.host.runUpstream(call, this.scope, options.upstream);
  }

  close(code: number = CloseCode.DisconnectedByApi, reason = 'closed by the application'): void {
    this.end('closed', code, reason);
  }

  /**
   * Attaches a socket: takes over from an older one (4100), sends the welcome frame, then replays
   * every retained frame after `lastSeq`, in order, each once.
   */
  attach(
    socket: SessionSocket,
    lastSeq: number | undefined,
    resumed: boolean,
    failure?: ResumeFailure,
  ): void {
    if (this.resumeTimer) this.host.store.reattached(this.user, this.id);
    this.resumeTimer?.dispose();
    this.resumeTimer = null;
    const previous = this.socket;
    this.socket = socket;
    previous?.end(CloseCode.Replaced, 'replaced by a newer connection');
    let frames = this.ring.since(lastSeq ?? this.ring.oldestAvailable, this.lastSeq);
    let resumeFailed = failure;
    if (frames === null) {
      resumeFailed = 'too_far_behind';
      frames = [];
    }
    const { heartbeatIntervalMs } = this.host.config;
    socket.send(welcomeFrame(this.id, resumed, this.lastSeq, heartbeatIntervalMs, resumeFailed), false);
    let chars = 0;
    for (const frame of frames) {
      socket.send(frame, false);
      chars += frame.length;
    }
    if (frames.length > 0) {
      this.host.telemetry.replayed(socket.identity, frames.length);
      this.host.telemetry.throughput('replayed', frames.length, chars);
    }
    if (resumeFailed) this.host.telemetry.resumeFailed(socket.identity, resumeFailed);
  }

  /**
   * One of this session's sockets left, or the server decided to close it. Keeps the session for
   * the resume window, or ends it for a final close code.
   */
  detached(socket: SessionSocket, code: number): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (!keepsSessionAfterClose(code) || this.host.config.resumeWindowMs === 0) {
      this.end('final_close');
      return;
    }
    this.detachedAt = this.host.now();
    this.resumeTimer = this.scope.timer(this.host.config.resumeWindowMs, () => this.end('expired'));
    this.host.store.detached(this.user, this.id);
  }

  /**
   * A valid frame from one of this session's sockets. A socket that was taken over still gets its
   * pongs, but its messages and acks no longer count.
   */
  frame(socket: SessionSocket, frame: ClientFrame): void {
    if (frame.type === 'ping') socket.send(PONG_FRAME, false);
    else if (this.socket !== socket) return;
    else if (frame.type === 'ack') this.ack(frame.seq);
    else this.deliver(socket, frame.data, frame.id);
  }

  /** The client has every message up to `seq`: free them from the ring. */
  ack(seq: number): void {
    const upTo = Math.min(seq, this.lastSeq);
    this.ring.ackUpTo(upTo);
    this.host.store.acked(this.user, this.id, upTo);
  }

  /**
   * Ends the session and releases everything it owns, exactly once. An attached socket is closed
   * with `code` first; it is detached before, so its leaving does not end the session a second time.
   */
  end(
    reason: SessionEndReason,
    code: number = CloseCode.DisconnectedByApi,
    closeReason = 'session ended',
  ): void {
    if (this.isEnded) return;
    this.isEnded = true;
    const socket = this.socket;
    this.socket = null;
    socket?.end(code, closeReason);
    this.handlers = [];
    this.scope.dispose();
    this.host.store.ended(this.user, this.id, SESSION_END_REASONS[reason].livesOn);
    this.host.ended(this, reason);
  }

  /** A client message: runs every handler, reporting failures to the client by `ref`. */
  private deliver(socket: SessionSocket, data: unknown, id: string | undefined): void {
    const ctx: MessageContext =
      id === undefined
        ? { signal: this.scope.signal, session: this }
        : { id, signal: this.scope.signal, session: this };
    for (const handler of this.handlers) {
      try {
        const result = handler(data, ctx);
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(undefined, (error: unknown) =>
            this.handlerFailed(socket, error, id),
          );
        }
      } catch (error) {
        this.handlerFailed(socket, error, id);
      }
    }
  }

  private handlerFailed(socket: SessionSocket, error: unknown, ref: string | undefined): void {
    this.host.telemetry.failure('message handler', error, socket.identity);
    if (this.socket === socket) socket.sendError('handler_error', 'the message could not be processed', ref);
  }
}
