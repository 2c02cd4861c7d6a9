/**
 * Where live sessions and connections are found: by session key, by user, and all of them.
 * Insertion order is kept, so "oldest first" is the iteration order.
 */
import type { Connection } from './connection.js';
import type { SessionState } from './session.js';

/** Session keys the server gave up recently, remembered so a late resume says "expired" rather than "unknown". */
const REMEMBERED_EXPIRED = 10_000;

/** The registry; see the module comment. */
export class Registry {
  /** Live sessions by key. */
  readonly sessions = new Map<string, SessionState>();
  /** Live sockets, including those in their closing handshake. */
  readonly connections = new Set<Connection>();
  private readonly sessionsByUser = new Map<string, Set<SessionState>>();
  private readonly connectionsByUser = new Map<string, Set<Connection>>();
  private readonly expired = new Set<string>();

  /** Adds a session under the key computed at its admission. */
  addSession(session: SessionState): void {
    this.sessions.set(session.identity.sessionKey, session);
    addTo(this.sessionsByUser, session.user, session);
  }

  /** Removes a session using the same identity it was added with (I3). */
  removeSession(session: SessionState, expired: boolean): void {
    const key = session.identity.sessionKey;
    if (this.sessions.get(key) === session) this.sessions.delete(key);
    removeFrom(this.sessionsByUser, session.user, session);
    if (expired) {
      this.expired.add(key);
      if (this.expired.size > REMEMBERED_EXPIRED) {
        const oldest = this.expired.values().next().value;
        if (oldest !== undefined) this.expired.delete(oldest);
      }
    }
  }

  /** Whether the server gave up the session with this key recently (expired, dropped or shed). */
  wasExpired(key: string): boolean {
    return this.expired.has(key);
  }

  /** Adds a live socket. */
  addConnection(connection: Connection): void {
    this.connections.add(connection);
    addTo(this.connectionsByUser, connection.identity.user, connection);
  }

  /** Removes a socket that finished. */
  removeConnection(connection: Connection): void {
    this.connections.delete(connection);
    removeFrom(this.connectionsByUser, connection.identity.user, connection);
  }

  /** A user's live sessions, oldest first. */
  sessionsOf(user: string): ReadonlySet<SessionState> {
    return this.sessionsByUser.get(user) ?? EMPTY;
  }

  /** A user's live sockets, oldest first. */
  connectionsOf(user: string): ReadonlySet<Connection> {
    return this.connectionsByUser.get(user) ?? EMPTY;
  }

  /** Number of users with at least one live session. */
  get userCount(): number {
    return this.sessionsByUser.size;
  }
}

const EMPTY: ReadonlySet<never> = new Set<never>();

function addTo<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
