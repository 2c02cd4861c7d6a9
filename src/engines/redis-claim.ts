/**
 * One claim of a session under way on this node (see redis-sessions.ts): where it stands in the
 * hand-over, and what was published for the session since the claim's ordering point.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RemoteOperation } from '../core/engine.js';
import type { ClaimMessage } from './redis-router.js';

/** A claim under way on this node. */
export class PendingClaim {
  readonly id = randomUUID();
  holder = '';
  /** This node's claim is on the wire: its own publishes from now on are for the new session. */
  sent = false;
  /** The claim came back on the channel: other nodes' publishes from now on are for the new session. */
  echoed = false;
  /** Whether to wait for the holder's answer (false when it is dead or is this node). */
  awaitAnswer = false;
  /** Number of the holder's answer in its sequence; its operations before it are in the stream. */
  answeredAt: number | undefined;
  attached = false;
  readonly buffer: Array<{ from: string; n: number; operation: RemoteOperation }> = [];
  /** Another node claimed the session while this claim was under way: answer it once settled. */
  claimedBy: ClaimMessage | undefined;
  wake: (() => void) | null = null;
  settle!: () => void;
  readonly settled = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(
    readonly user: string,
    readonly session: string,
  ) {}

  get ready(): boolean {
    return this.echoed && (!this.awaitAnswer || this.answeredAt !== undefined);
  }

  /** What was published for the session after the ordering point, in order. */
  collected(): { messages: string[]; disconnected: boolean } {
    const messages: string[] = [];
    for (const { from, n, operation } of this.buffer) {
      // The holder applied its own operations sent before its answer; the stream has them.
      if (from === this.holder && this.answeredAt !== undefined && n < this.answeredAt) continue;
      if (operation.kind === 'disconnect') return { messages, disconnected: true };
      messages.push(operation.json);
    }
    return { messages, disconnected: false };
  }

  targets(operation: RemoteOperation): boolean {
    return (
      operation.user === this.user && (operation.session === undefined || operation.session === this.session)
    );
  }
}

/**
 * Reads a session's stream: its last sequence number (which survives trimming) and the contiguous
 * run of frames that ends at it. A run with a hole (frames Redis missed) is cut at the hole, so the
 * replay reports what it cannot give instead of skipping it silently.
 */
export async function readSentFrames(
  redis: Redis,
  stream: string,
): Promise<{ latestSeq: number; frames: Array<[number, string]> }> {
  const [info, range] =
    (await redis.pipeline().xinfo('STREAM', stream).xrange(stream, '-', '+').exec()) ?? [];
  const latestSeq = info && !info[0] ? latestSeqOf(info[1] as unknown[]) : 0;
  const entries = (range && !range[0] ? range[1] : []) as Array<[string, string[]]>;
  return { latestSeq, frames: contiguousFrames(latestSeq, entries) };
}

/** The stream's last sequence number from its `XINFO STREAM` fields (`last-generated-id` is `<seq>-0`), or 0. */
export function latestSeqOf(fields: readonly unknown[]): number {
  return Number.parseInt(String(fields[fields.indexOf('last-generated-id') + 1]), 10) || 0;
}

/**
 * The frames of `XRANGE` entries (id `<seq>-0`, fields `f <frame>`) that run without a hole up to
 * `latestSeq`, oldest first: everything before the last missing sequence number is left out.
 */
export function contiguousFrames(
  latestSeq: number,
  entries: ReadonlyArray<readonly [string, readonly string[]]>,
): Array<[number, string]> {
  const frames: Array<[number, string]> = [];
  let expected = latestSeq;
  for (let i = entries.length - 1; i >= 0; i--) {
    const [id, fields] = entries[i] as readonly [string, readonly string[]];
    if (Number.parseInt(id, 10) !== expected) break;
    frames.unshift([expected--, fields[1] ?? '']);
  }
  return frames;
}
