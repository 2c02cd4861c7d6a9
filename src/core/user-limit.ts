/**
 * The path of one upgrade whose user holds their connection limit. Zombies go first, because they
 * hold slots until someone asks them (the step the production incidents lacked); then the per-user
 * policy: evict the oldest connection, wait in the queue, or refuse. Each step is taken at most once
 * per upgrade, except waiting, which lasts until the queue's deadline.
 */
import type { ErrorCode } from '../errors.js';
import type { CoreConfig } from './config.js';
import type { SlotQueue } from './slot-queue.js';

/** What admission needs from the hub to act on a user's live connections. */
export interface AdmissionHost {
  /** Probes a user's connections and removes those that do not answer; returns how many went. */
  probeUser(user: string): Promise<number>;
  /** Evicts the user's oldest live connection; false when there is none. */
  evictOldest(user: string): boolean;
  /** Ends the user's session that has been without a socket longest; false when there is none. */
  dropLongestDetached(user: string): boolean;
}

/** What the path decided: reserve again (a slot was freed, or may have been), or refuse. */
export type UserLimitStep = 'again' | { refuse: ErrorCode; message?: string; retryAfterMs?: number };

/** What the path works with, shared by every upgrade of a gateway. */
export interface UserLimitParts {
  config: CoreConfig;
  /** Whether other nodes share the limits (the engine's `shared`). */
  shared: boolean;
  host: AdmissionHost;
  queue: SlotQueue;
  now(): number;
}

/** How often an upgrade queued on a shared engine asks again for a slot that may have freed elsewhere. */
const SHARED_QUEUE_POLL_MS = 250;

/** See the module comment. One per upgrade that reaches the limit. */
export class UserLimitPath {
  private probed = false;
  /** This node may still have a connection of the user to evict. */
  private evictHere = true;
  private evictEverywhere = false;
  private readonly deadline: number;

  constructor(
    private readonly parts: UserLimitParts,
    private readonly user: string,
    private readonly signal: AbortSignal,
  ) {
    this.deadline = parts.now() + parts.config.queueTimeoutMs;
  }

  /**
   * Whether the engine is to evict the user's oldest connection wherever it is, in the same step
   * as the next reservation.
   */
  get engineEvicts(): boolean {
    return this.evictEverywhere;
  }

  /** Takes the next step. */
  async next(): Promise<UserLimitStep> {
    const { config, host, shared } = this.parts;
    if (!this.probed) {
      this.probed = true;
      if ((await host.probeUser(this.user)) > 0) return 'again';
    }
    if (config.perUserPolicy === 'evict-oldest') {
      // A shared engine evicts on whichever node holds the oldest connection; if it cannot, the
      // oldest here goes.
      if (shared && !this.evictEverywhere) {
        this.evictEverywhere = true;
        return 'again';
      }
      if (this.evictHere) {
        if (host.evictOldest(this.user)) return 'again';
        this.evictHere = false;
      }
    }
    if (config.perUserPolicy !== 'queue') {
      return { refuse: 'user_limit', message: `user holds ${config.maxConnectionsPerUser} connections` };
    }
    const remaining = this.deadline - this.parts.now();
    // A slot freed on another node wakes nobody here: with a shared engine, ask again every poll.
    const waitMs = shared ? Math.min(remaining, SHARED_QUEUE_POLL_MS) : remaining;
    const outcome = await this.parts.queue.wait(this.user, waitMs, this.signal);
    if (outcome === 'timeout' && waitMs < remaining) return 'again';
    if (outcome === 'timeout') return { refuse: 'queue_timeout', retryAfterMs: jitter(1_000) };
    if (outcome === 'full') return { refuse: 'queue_full', retryAfterMs: jitter(1_000) };
    if (outcome === 'user_full') {
      return {
        refuse: 'user_queue_full',
        message: `user has ${config.maxQueuedUpgradesPerUser} upgrades waiting already`,
        retryAfterMs: jitter(1_000),
      };
    }
    return 'again';
  }
}

/** A delay between `ms` and twice `ms`, so refused clients do not come back in lockstep. */
export function jitter(ms: number): number {
  return Math.round(ms + Math.random() * ms);
}
