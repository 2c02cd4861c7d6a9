/**
 * The Redis copy of each session's sent frames, which a claim reads so that the session resumes on
 * another node with exactly the frames its client missed: one stream per session, entry id = the
 * frame's sequence number, capped by MAXLEN, trimmed on acks, expiring with the session's keys.
 */
import type { Redis } from 'ioredis';
import { readSentFrames } from './redis-claim.js';

/** How much of a session's frames the stream keeps: the replay ring's bounds. */
export interface SentFrameBounds {
  /** Frames kept per session. */
  readonly maxMessages: number;
}

/** What a claim reads of a session's stream. */
export interface SentFrameTail {
  /** Sequence number of the last frame the session sent (it survives trimming). */
  readonly latestSeq: number;
  /** The retained frames, oldest first, contiguous up to `latestSeq`. */
  readonly frames: Array<[number, string]>;
}

/** The streams of every session, under one key prefix. See the module comment. */
export class RedisSentFrames {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Lifetime of a stream without a refresh, as the session's other keys. */
    private readonly ttlMs: number,
    private readonly bounds: SentFrameBounds,
  ) {}

  /** The stream of the session with registry key `sessionKey`. */
  keyOf(sessionKey: string): string {
    return `${this.prefix}ss:${sessionKey}`;
  }

  /** Appends frame `seq`; rejects when Redis did not take it (the copy then has a hole). */
  async append(sessionKey: string, seq: number, frame: string): Promise<void> {
    const stream = this.keyOf(sessionKey);
    const max = String(this.bounds.maxMessages);
    await Promise.all([
      this.redis.xadd(stream, 'MAXLEN', '~', max, `${seq}-0`, 'f', frame),
      this.redis.pexpire(stream, this.ttlMs),
    ]);
  }

  /** Forgets the frames up to `seq`: the client has them. */
  async trimAcked(sessionKey: string, seq: number): Promise<void> {
    await this.redis.xtrim(this.keyOf(sessionKey), 'MINID', String(seq + 1));
  }

  /** Reads the contiguous run of frames that ends at the session's last sequence number. */
  readTail(sessionKey: string): Promise<SentFrameTail> {
    return readSentFrames(this.redis, this.keyOf(sessionKey));
  }
}
