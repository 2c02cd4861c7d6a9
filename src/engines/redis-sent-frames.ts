/**
 * The Redis copy of each session's sent frames, which a claim reads so that the session resumes on
 * another node with exactly the frames its client missed: one stream per session, entry id = the
 * frame's sequence number, expiring with the session's other keys.
 *
 * It is bounded like the session's replay ring, by frames and by bytes: one script appends a frame
 * and drops the oldest ones past either bound (APPEND_FRAME, which keeps a running byte offset in
 * each entry), acks trim it further, and a claim reads at most the bounds from its newest end
 * (READ_FRAME_TAIL), so neither Redis's memory nor a claim grows with what a session sends.
 */
import type { Redis } from 'ioredis';
import { APPEND_FRAME, READ_FRAME_TAIL } from './redis-scripts.js';

type FramesRedis = Redis & {
  swAppendFrame(...args: Array<string | number>): Promise<number>;
  swReadFrameTail(...args: Array<string | number>): Promise<string[]>;
};

/** How much of a session's frames its stream keeps: the replay ring's bounds. */
export interface SentFrameBounds {
  /** Frames kept per session. */
  readonly maxMessages: number;
  /** Bytes of frames kept per session. */
  readonly maxBytes: number;
}

/** What a claim reads of a session's stream. */
export interface SentFrameTail {
  /** Sequence number of the last frame the session sent (it survives trimming). */
  readonly latestSeq: number;
  /** The newest retained frames within the bounds, oldest first, contiguous up to `latestSeq`. */
  readonly frames: Array<[number, string]>;
}

/** The streams of every session, under one key prefix. See the module comment. */
export class RedisSentFrames {
  private readonly redis: FramesRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    /** Lifetime of a stream without a refresh, as the session's other keys. */
    private readonly ttlMs: number,
    private readonly bounds: SentFrameBounds,
  ) {
    redis.defineCommand('swAppendFrame', { numberOfKeys: 1, lua: APPEND_FRAME });
    redis.defineCommand('swReadFrameTail', { numberOfKeys: 1, lua: READ_FRAME_TAIL });
    this.redis = redis as FramesRedis;
  }

  /** The stream of the session with registry key `sessionKey`. */
  keyOf(sessionKey: string): string {
    return `${this.prefix}ss:${sessionKey}`;
  }

  /**
   * Appends frame `seq` and drops the oldest frames past the bounds, in one step; rejects when
   * Redis did not take it (the copy then has a hole).
   */
  async append(sessionKey: string, seq: number, frame: string): Promise<void> {
    const { maxMessages, maxBytes } = this.bounds;
    await this.redis.swAppendFrame(this.keyOf(sessionKey), seq, frame, maxMessages, maxBytes, this.ttlMs);
  }

  /** Forgets the frames up to `seq`: the client has them. The byte offsets need no update. */
  async trimAcked(sessionKey: string, seq: number): Promise<void> {
    await this.redis.xtrim(this.keyOf(sessionKey), 'MINID', String(seq + 1));
  }

  /**
   * Reads the newest frames within the bounds: the contiguous run that ends at the session's last
   * sequence number, cut at a hole so that the replay reports what it cannot give (too far behind)
   * instead of skipping it.
   */
  async readTail(sessionKey: string): Promise<SentFrameTail> {
    const { maxMessages, maxBytes } = this.bounds;
    const reply = await this.redis.swReadFrameTail(this.keyOf(sessionKey), maxMessages, maxBytes);
    const latestSeq = Number.parseInt(reply[0] ?? '0', 10) || 0;
    const frames: Array<[number, string]> = [];
    // Newest first in the reply: id and frame pairs after the last id.
    for (let i = reply.length - 2; i >= 1; i -= 2) {
      frames.push([Number.parseInt(reply[i] as string, 10), reply[i + 1] as string]);
    }
    return { latestSeq, frames };
  }
}
