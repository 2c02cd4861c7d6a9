/**
 * The backend bridge's lifecycle events, `connect` and `disconnect`, in a lane of their own: a gate
 * with room for many at once and a queue sized for a whole node's sessions, so that sessions ending
 * together (a deploy, a network blip, a drain) each get their event through instead of overflowing
 * the one-in-flight queue of a single owner. Each event is still a governed call (I7): paced with
 * the messages by the backend's token bucket, retried within `maxAttempts` and the retry budget,
 * failing fast while the circuit is open. An event finally given up is counted by the governor's
 * figures (a failure, rejection or cancellation of the `backend` upstream) and logged with its user
 * and session: none vanishes in silence. {@link LifecycleEvents.flush} lets a drain wait for the
 * disconnects of the sessions it ended before it disposes the scope they run in.
 */
import type { Logger } from 'pino';
import type { Scope } from '../core/scope.js';
import type { Session } from '../core/session.js';
import { SockwardenError } from '../errors.js';
import { CallLane, type GovernedAttempt, type Governor } from '../governor/governor.js';

/** A lifecycle event the bridge can send besides `message`. */
export type LifecycleEvent = 'connect' | 'disconnect';

/** Who an event is about. */
export interface EventIdentity {
  user: string;
  session: string;
}

/**
 * Lifecycle events in flight at once: enough that fifty sessions ending together are delivered in a
 * few round trips, few enough to leave most of the governor's global slots to messages.
 */
const LANE_CONCURRENCY = 8;
/** The least room in the lane's queue; it is at least one place per connection the node may hold. */
const LANE_QUEUE_MIN = 1_000;

/** What {@link LifecycleEvents} needs from the bridge. */
export interface LifecycleParts {
  governor: Governor;
  /** The bridge's scope: each disconnect runs in a child of it, so the bridge's end cancels them. */
  owner: Scope;
  /** The upstream name of the backend, shared with messages: one circuit, one rate. */
  upstream: string;
  /** Connections the node may hold, which sizes the lane's queue. */
  maxConnections: number;
  log: Logger;
  /** POSTs an event's body within an attempt; resolves with the backend's 200 or 204. */
  post(body: string, attempt: GovernedAttempt): Promise<Response>;
}

/** See the module comment. */
export class LifecycleEvents {
  private readonly lane: CallLane;
  /** Events queued or in flight, for flush. */
  private pending = 0;
  private flushed: Array<() => void> = [];

  constructor(private readonly parts: LifecycleParts) {
    this.lane = new CallLane("the backend's lifecycle events", {
      concurrency: LANE_CONCURRENCY,
      queue: Math.max(LANE_QUEUE_MIN, parts.maxConnections),
    });
  }

  /**
   * Sends `connect` for a new session. The call is the session's (it ends with it, and waits in the
   * session's queue ahead of its first message); `relay` hands the reply to the session. Rejects with
   * the governor's error after logging it, so the caller can tell the client.
   */
  connect(
    session: Session,
    relay: (res: Response, attempt: GovernedAttempt) => Promise<void>,
  ): Promise<void> {
    const identity = { user: session.user, session: session.id };
    const body = JSON.stringify({ event: 'connect', ...identity });
    return this.send('connect', identity, session.scope, async (attempt) =>
      relay(await this.parts.post(body, attempt), attempt),
    );
  }

  /**
   * Sends `disconnect` for a session that ended. The session is gone, so the call runs in a scope of
   * its own under the bridge's: its own owner gate, and cancelled only when the bridge ends.
   */
  disconnect(identity: EventIdentity): void {
    const { owner } = this.parts;
    // After the bridge ended, the governor still sees the call, so the give-up is counted.
    const eventOwner = owner.disposed ? owner : owner.child('backend-disconnect');
    const body = JSON.stringify({ event: 'disconnect', ...identity });
    this.send('disconnect', identity, eventOwner, async (attempt) => {
      await (await this.parts.post(body, attempt)).body?.cancel();
    })
      .catch(() => {})
      .finally(() => {
        if (eventOwner !== owner) eventOwner.dispose();
      });
  }

  /** Resolves once no lifecycle event is queued or in flight. */
  flush(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushed.push(resolve));
  }

  private async send(
    event: LifecycleEvent,
    identity: EventIdentity,
    owner: Scope,
    call: (attempt: GovernedAttempt) => Promise<void>,
  ): Promise<void> {
    const { governor, upstream } = this.parts;
    this.pending++;
    try {
      await governor.run(call, { owner, upstream, lane: this.lane });
    } catch (error) {
      this.gaveUp(event, identity, error);
      throw error;
    } finally {
      if (--this.pending === 0) for (const resolve of this.flushed.splice(0)) resolve();
    }
  }

  private gaveUp(event: LifecycleEvent, identity: EventIdentity, error: unknown): void {
    const code = error instanceof SockwardenError ? error.code : 'backend_unavailable';
    const why =
      code === 'upstream_cancelled'
        ? event === 'connect'
          ? 'the session ended first'
          : 'the bridge or the gateway closed first'
        : (error as Error).message;
    this.parts.log.warn({ event, ...identity, code, err: error }, `backend ${event} event given up: ${why}`);
  }
}
