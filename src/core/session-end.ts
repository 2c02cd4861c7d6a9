/**
 * Why a session ends, as one table. Each reason says what the end implies for a client that later
 * asks to resume the session, and for the state a shared engine keeps of it, so that no code
 * compares free-form strings to decide either.
 */

/** What one end reason implies. */
export interface SessionEndMeaning {
  /**
   * The server gave the session up while its client may still come back: a late resume reports
   * `expired` rather than `unknown`.
   */
  readonly givenUp: boolean;
  /**
   * The session lives on elsewhere (another node holds it, or will): its shared state is kept
   * rather than deleted.
   */
  readonly livesOn: boolean;
  /** One line for logs and docs. */
  readonly summary: string;
}

/** Every reason a session ends, and what each implies. */
export const SESSION_END_REASONS = {
  closed: {
    givenUp: false,
    livesOn: false,
    summary: 'the application or the HTTP API closed it',
  },
  final_close: {
    givenUp: false,
    livesOn: false,
    summary: 'its socket closed with a code that does not keep the session, or resuming is off',
  },
  expired: {
    givenUp: true,
    livesOn: false,
    summary: 'no socket came back within the resume window',
  },
  dropped: {
    givenUp: true,
    livesOn: false,
    summary: 'dropped to make room for a newer session of its user (the session limit)',
  },
  shed: {
    givenUp: true,
    livesOn: false,
    summary: 'evicted without a socket at critical pressure',
  },
  moved: {
    givenUp: false,
    livesOn: true,
    summary: 'its client resumed it on another node, which holds it now',
  },
  drained: {
    givenUp: false,
    livesOn: true,
    summary: 'its node drained; with a shared engine its client resumes it on another node',
  },
} as const satisfies Record<string, SessionEndMeaning>;

/** Why a session ended; see {@link SESSION_END_REASONS}. */
export type SessionEndReason = keyof typeof SESSION_END_REASONS;
