/**
 * Messages sent while the client is not connected. The queue is bounded: a client that is offline
 * for minutes must not grow without limit, and the caller learns at once that a send was refused.
 */
import { SockwardenError } from '../errors.js';

interface Pending {
  text: string;
  id: string;
  resolve: (id: string) => void;
  reject: (error: SockwardenError) => void;
}

/** A bounded FIFO of serialized outgoing frames, each with the promise its `send` returned. */
export class Outbox {
  private pending: Pending[] = [];

  constructor(private readonly limit: number) {}

  /** Frames waiting. */
  get size(): number {
    return this.pending.length;
  }

  /** Queues a frame; the promise settles when it is written or the client gives up. */
  enqueue(text: string, id: string): Promise<string> {
    if (this.pending.length >= this.limit) {
      return Promise.reject(
        new SockwardenError(
          'send_queue_full',
          `the client is not connected and ${this.limit} messages already wait to be sent (option maxQueuedMessages)`,
        ),
      );
    }
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ text, id, resolve, reject });
    });
  }

  /** Writes every waiting frame through `write`, oldest first. */
  flush(write: (text: string) => void): void {
    const batch = this.pending;
    this.pending = [];
    for (const item of batch) {
      write(item.text);
      item.resolve(item.id);
    }
  }

  /** Rejects every waiting send with `error`. */
  fail(error: SockwardenError): void {
    const batch = this.pending;
    this.pending = [];
    for (const item of batch) item.reject(error);
  }
}
