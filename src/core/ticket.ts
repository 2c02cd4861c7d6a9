/**
 * The ticket: what an admitted upgrade carries from admission to the moment its socket opens. It
 * holds the identity computed once (I3), the reserved slot, and the session decision, and knows how
 * to give every reservation back when the upgrade fails after admission.
 */
import type { ResumeFailure } from '../protocol.js';
import type { SlotLease } from './engine.js';
import type { Identity } from './identity.js';
import type { ClaimedSession } from './session-store.js';

/** Who authentication says the peer is. */
export interface Principal {
  /** User id (the JWT `sub` in server mode). */
  user: string;
  /** When the credentials expire, in ms since the epoch, or undefined when they do not. */
  expiresAt?: number;
}

/** An admitted upgrade: identity, reserved slot, and the session decision. */
export interface Ticket {
  readonly identity: Identity;
  readonly principal: Principal;
  readonly lease: SlotLease;
  readonly lastSeq: number | undefined;
  /** Why the asked-for session could not be resumed, when it could not. */
  readonly resumeFailure: ResumeFailure | undefined;
  /** The asked-for session, moved here from another node. */
  readonly claimed: ClaimedSession | undefined;
  /** Hands the reserved session place to the session that opens now. */
  consume(): void;
  /** The upgrade failed after admission: give back everything reserved. */
  abandon(): void;
  /** Adds something to give back on {@link abandon}. */
  onAbandon(undo: () => void): void;
}

/**
 * New sessions admitted on this node whose socket has not opened yet, per user. They count with
 * the user's open sessions, so that concurrent upgrades cannot overshoot the session limit.
 */
export class PendingSessions {
  private readonly byUser = new Map<string, number>();

  /** How many of the user's new sessions are between admission and open. */
  count(user: string): number {
    return this.byUser.get(user) ?? 0;
  }

  /** Counts one more for `user`; the returned function takes it back, once. */
  hold(user: string): () => void {
    this.byUser.set(user, this.count(user) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.count(user) - 1;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    };
  }
}

/** What a ticket is issued from. */
export interface TicketParts {
  identity: Identity;
  principal: Principal;
  lease: SlotLease;
  lastSeq: number | undefined;
  resumeFailure: ResumeFailure | undefined;
  claimed: ClaimedSession | undefined;
  /** Releases the session's pending place; absent when the upgrade resumes a session held here. */
  pending: (() => void) | undefined;
}

/** Issues a ticket; see {@link Ticket}. */
export function issueTicket(parts: TicketParts): Ticket {
  const { claimed, lease } = parts;
  let pending = parts.pending;
  const consume = () => {
    pending?.();
    pending = undefined;
  };
  // A session claimed from another node goes back to the store if the upgrade fails.
  const undos: Array<() => void> = claimed ? [() => claimed.abandon()] : [];
  return {
    identity: parts.identity,
    principal: parts.principal,
    lease,
    lastSeq: parts.lastSeq,
    resumeFailure: parts.resumeFailure,
    claimed,
    consume,
    abandon: () => {
      const opened = pending === undefined;
      consume();
      lease.release();
      // Only before the session opened: afterwards the session itself owns its place.
      if (!opened) for (const undo of undos.splice(0)) undo();
    },
    onAbandon: (undo) => void undos.push(undo),
  };
}
