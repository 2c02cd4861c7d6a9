/**
 * Identity of one admitted connection (invariant I3): computed once at admission, frozen, and
 * carried everywhere after. Nothing downstream derives a key again.
 */

/** The frozen identity of an admitted connection and its session. */
export interface Identity {
  /** User id from authentication. */
  readonly user: string;
  /** Session id, asked for by the client or generated. */
  readonly session: string;
  /** The registry key of the session, computed here once. */
  readonly sessionKey: string;
  /** Remote address. */
  readonly ip: string;
  /** Connection id, unique per gateway. */
  readonly conn: string;
}

/** Builds the frozen identity. The only place a session key is computed. */
export function createIdentity(user: string, session: string, ip: string, conn: string): Identity {
  return Object.freeze({ user, session, sessionKey: sessionKeyOf(user, session), ip, conn });
}

/** The registry key of a user's session; used at admission and for API look-ups, never for release. */
export function sessionKeyOf(user: string, session: string): string {
  // Length-prefixed so that no user id containing the separator can collide with another user's session.
  return `${user.length}:${user}/${session}`;
}
