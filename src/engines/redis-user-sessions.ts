/**
 * Each user's sessions across the cluster, for the per-user session limit: a sorted set of the
 * user's sessions scored by when they expire (refreshed with the sessions on each node's refresh
 * tick), and one of those without a socket, scored by when they lost it, so that the session away
 * longest can make room for a new one in the same atomic step that admits it.
 */
import type { Redis } from 'ioredis';
import { ADMIT_SESSION, DETACH_SESSION } from './redis-scripts.js';

type IndexRedis = Redis & {
  swAdmitSession(...args: Array<string | number>): Promise<[string, string]>;
  swDetachSession(...args: Array<string | number>): Promise<number>;
};

/** See the module comment. */
export class RedisUserSessions {
  private readonly redis: IndexRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
    private readonly onError: (error: unknown) => void,
  ) {
    redis.defineCommand('swAdmitSession', { numberOfKeys: 2, lua: ADMIT_SESSION });
    redis.defineCommand('swDetachSession', { numberOfKeys: 1, lua: DETACH_SESSION });
    this.redis = redis as IndexRedis;
  }

  /** The user's sessions, scored by expiry. */
  sessionsKey(user: string): string {
    return `${this.prefix}us:${user}`;
  }

  /** The user's sessions without a socket, scored by when they lost it. */
  detachedKey(user: string): string {
    return `${this.prefix}ud:${user}`;
  }

  /**
   * Takes a place for a new session under `max`; resolves whether it got one and which detached
   * session (if any) was dropped for it.
   */
  async admit(user: string, session: string, max: number): Promise<{ ok: boolean; dropped: string }> {
    const [verdict, dropped] = await this.redis.swAdmitSession(
      this.sessionsKey(user),
      this.detachedKey(user),
      session,
      max,
      this.ttlMs,
    );
    return { ok: verdict === 'ok', dropped };
  }

  /** Gives back the place of a session that never opened. */
  cancel(user: string, session: string): void {
    this.redis.zrem(this.sessionsKey(user), session).catch(this.onError);
  }

  /** The session lost its socket. */
  detached(user: string, session: string): void {
    this.redis.swDetachSession(this.detachedKey(user), session, this.ttlMs).catch(this.onError);
  }

  /** The session has a socket again (here, or on the node it moved to). */
  reattached(user: string, session: string): void {
    this.redis.zrem(this.detachedKey(user), session).catch(this.onError);
  }
}
