/**
 * One claim of a session under way on this node (see redis-sessions.ts): where it stands in the
 * hand-over, and what was published for the session since the claim's ordering point.
 */
import { randomUUID } from 'node:crypto';
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
