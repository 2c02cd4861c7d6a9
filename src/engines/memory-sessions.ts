/**
 * The memory engine's session store: one node, so there is nothing to record and nowhere else a
 * session could be. Every session this node could resume is in its own registry, which admission
 * consults before it asks the store, and the node's own session count is checked before a place
 * is asked for.
 */
import type { ClaimedSession, SessionPlace, SessionStore } from '../core/session-store.js';

const PLACE: SessionPlace = { cancel() {} };

/** See the module comment. */
export class LocalSessionStore implements SessionStore {
  admit(): SessionPlace {
    return PLACE;
  }

  claim(): ClaimedSession | null {
    return null;
  }

  detached(): void {}
  reattached(): void {}
  opened(): void {}
  sent(): void {}
  acked(): void {}
  ended(): void {}
}
