/**
 * An in-memory {@link ConnectionPort} for core tests: no socket, no I/O. It records what the core
 * does to the socket (text frames, pings, the close, a terminate) and plays the peer's part the way
 * the test asks: answer pings, answer the close frame, or stay silent like a zombie.
 */
import type { ConnectionPort } from '../../src/core/connection.js';

/** A frame the server sent, parsed. */
export type SentFrame = { type: string; [key: string]: unknown };

/** What the peer does on its own; both default to what a well-behaved client does. */
export interface PeerBehaviour {
  /** Answer every ping with a pong (on the next microtask, as a real socket would). Default true. */
  autoPong?: boolean;
  /** Answer the close frame, so the socket finishes with the server's code. Default true. */
  answerClose?: boolean;
  /** Each send adds its length to `bufferedAmount` until the reader writes it out. Default false. */
  accumulate?: boolean;
}

/** The connection side the port reports the peer's answers to. */
export interface PortPeer {
  pong(): void;
  closed(code: number): void;
}

/** See the module comment. */
export class MemoryPort implements ConnectionPort {
  /** Bytes queued and not yet written; set it to play a slow reader. */
  bufferedAmount = 0;
  /** Every text frame sent, in order, as sent. */
  readonly sent: string[] = [];
  /** Pings sent. */
  pings = 0;
  /** The first close the server started, if any. */
  closedWith: { code: number; reason: string } | null = null;
  /** Every close the server asked for (there should be one at most). */
  readonly closes: Array<{ code: number; reason: string }> = [];
  /** Whether the socket was destroyed without a handshake. */
  terminated = false;
  autoPong: boolean;
  answerClose: boolean;
  accumulate: boolean;
  /** Frames sent and not yet written out, oldest first, with their send callbacks. */
  private readonly pending: Array<{ bytes: number; flushed: (() => void) | undefined }> = [];
  private peer: PortPeer | null = null;

  constructor(behaviour: PeerBehaviour = {}) {
    this.autoPong = behaviour.autoPong ?? true;
    this.answerClose = behaviour.answerClose ?? true;
    this.accumulate = behaviour.accumulate ?? false;
  }

  /** Connects the peer's answers (pongs, the close) to the connection opened on this port. */
  bind(peer: PortPeer): void {
    this.peer = peer;
  }

  send(text: string, onFlushed?: () => void): void {
    this.sent.push(text);
    if (this.accumulate) this.bufferedAmount += text.length;
    this.pending.push({ bytes: text.length, flushed: onFlushed });
  }

  ping(): void {
    this.pings++;
    if (this.autoPong) queueMicrotask(() => this.peer?.pong());
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.closedWith ??= { code, reason };
    if (this.answerClose) queueMicrotask(() => this.peer?.closed(code));
  }

  terminate(): void {
    this.terminated = true;
  }

  /** Whether the server closed or destroyed the socket. */
  get gone(): boolean {
    return this.closedWith !== null || this.terminated;
  }

  /** The close code the server chose, if it started a close. */
  get closeCode(): number | undefined {
    return this.closedWith?.code;
  }

  /** Every frame sent, parsed. */
  frames(): SentFrame[] {
    return this.sent.map((text) => JSON.parse(text) as SentFrame);
  }

  /** Frames of one type, parsed. */
  framesOf(type: string): SentFrame[] {
    return this.frames().filter((f) => f.type === type);
  }

  /** The first frame, which is always the welcome. */
  welcome(): SentFrame {
    const first = this.frames()[0];
    if (first?.type !== 'welcome') throw new Error(`no welcome frame; sent ${JSON.stringify(this.sent)}`);
    return first;
  }

  /** Sequence number and data of every `message` frame, in order. */
  messages(): Array<{ seq: number; data: unknown }> {
    return this.framesOf('message').map((f) => ({ seq: f.seq as number, data: f.data }));
  }

  /** Frames not yet written out. */
  get unflushed(): number {
    return this.pending.length;
  }

  /**
   * The reader takes the oldest `frames` frames: with `accumulate`, their bytes leave
   * `bufferedAmount`; their send callbacks run in order, as a socket runs them once written.
   */
  writeOut(frames = Number.POSITIVE_INFINITY): void {
    for (const { bytes, flushed } of this.pending.splice(0, frames)) {
      if (this.accumulate) this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
      flushed?.();
    }
  }

  /** The reader caught up: nothing is buffered any more, and every pending send callback runs. */
  drain(): void {
    this.bufferedAmount = 0;
    this.writeOut();
  }
}
