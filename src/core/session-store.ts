/**
 * The session-store port: where a shared engine keeps what a session has sent, so that the session
 * can resume on another node with exactly the messages its client missed (invariant I6 across a
 * cluster). A single-node engine has one that records nothing: its sessions live in this process
 * only, and none is ever held elsewhere.
 *
 * The core reports every session's life to the store (opened, each frame sent, acks, end) and,
 * when a client asks for a session this node does not hold, claims it: the store moves it here from
 * whichever node held it, closing the old socket there (4100), and collects what is published for
 * the session while it moves.
 */

/** A session moved here from another node, ready to open. */
export interface ClaimedSession {
  /** Sequence number of the last message the session sent before it moved. */
  readonly latestSeq: number;
  /** Retained frames after the client's last acknowledgement, oldest first, contiguous up to `latestSeq`. */
  readonly frames: ReadonlyArray<readonly [seq: number, frame: string]>;
  /** Whether the node it came from still had a socket on it (this admission replaces that socket). */
  readonly wasAttached: boolean;
  /**
   * The session now opens on this node: returns the messages (JSON text) published for it while it
   * moved, in order, and whether a disconnect was asked for meanwhile. Called once; from then on
   * publishes find the session here.
   */
  adopt(): { messages: string[]; disconnected: boolean };
  /** The upgrade failed after the claim: leave the session resumable by the next claim. Idempotent. */
  abandon(): void;
}

/** A new session's place under the cluster-wide session limit of its user. */
export interface SessionPlace {
  /** The upgrade failed before the session opened: give the place back. */
  cancel(): void;
}

/** The port a shared engine implements; see the module comment. */
export interface SessionStore {
  /**
   * Takes a place for a new session of `user` under `max` sessions across the cluster, in one
   * atomic step. At the limit, the user's session that has been without a socket longest, on
   * whichever node, is dropped to make room; resolves null when none of them is detached. A store
   * that cannot answer resolves a place (this node's own count was checked before). A store that
   * knows at once answers synchronously, so admission stays in one step.
   */
  admit(user: string, sessionId: string, max: number): SessionPlace | null | Promise<SessionPlace | null>;
  /** The session lost its socket and waits for a resume. */
  detached(user: string, sessionId: string): void;
  /** A detached session has a socket again. */
  reattached(user: string, sessionId: string): void;
  /**
   * Moves the session from the node that holds it, or resolves null when no node does (it never
   * existed, ended, or expired). Never rejects: a store that cannot answer resolves null. A store
   * that knows at once answers synchronously.
   */
  claim(user: string, sessionId: string): ClaimedSession | null | Promise<ClaimedSession | null>;
  /** A session opened on this node: new, or `adopted` after a claim. */
  opened(user: string, sessionId: string, adopted: boolean): void;
  /** The session sent frame `seq`; `frame` is the exact text, replayed byte for byte. */
  sent(user: string, sessionId: string, seq: number, frame: string): void;
  /** The client has every frame up to `seq`. */
  acked(user: string, sessionId: string, seq: number): void;
  /**
   * The session ended here. `keep` is true when it lives on elsewhere: it moved to another node, or
   * this node drained and its client is to resume on another one.
   */
  ended(user: string, sessionId: string, keep: boolean): void;
}
