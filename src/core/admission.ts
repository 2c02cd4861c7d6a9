/**
 * Admission at the upgrade, before any WebSocket exists (invariant I4), in this order: draining,
 * origin, per-IP connect rate, authentication, node capacity and pressure, per-IP cap, per-user cap
 * (with a zombie probe first, then the policy), per-user session cap. Every limit is checked and
 * reserved in one synchronous step after the last await, so concurrent upgrades cannot overshoot.
 */
import { type ErrorCode, SockwardenError } from '../errors.js';
import type { ResumeFailure } from '../protocol.js';
import type { CoreConfig } from './config.js';
import type { Engine, SlotLease } from './engine.js';
import { createIdentity, type Identity } from './identity.js';
import type { PressureMonitor } from './pressure.js';
import type { Registry } from './registry.js';
import type { Scope } from './scope.js';
import type { ClaimedSession } from './session-store.js';
import { SlotQueue } from './slot-queue.js';
import type { Telemetry } from './telemetry.js';
import { TokenBucket } from './token-bucket.js';

/** Who authentication says the peer is. */
export interface Principal {
  /** User id (the JWT `sub` in server mode). */
  user: string;
  /** When the credentials expire, in ms since the epoch, or undefined when they do not. */
  expiresAt?: number;
}

/** One upgrade to decide on. */
export interface AdmissionRequest {
  ip: string;
  origin: string | undefined;
  /** Session id the client asked for, already checked against the pattern. */
  sessionId: string | undefined;
  /** Last sequence number the client received. */
  lastSeq: number | undefined;
  /** Authenticates the request; throws or rejects when the credentials are bad. */
  authenticate(): Principal | Promise<Principal>;
  /** Aborts when the upgrading socket goes away. */
  signal: AbortSignal;
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
  /** Hands the reserved session slot to the session that opens now. */
  consume(): void;
  /** The upgrade failed after admission: give back everything reserved. */
  abandon(): void;
  /** Adds something to give back on {@link abandon}. */
  onAbandon(undo: () => void): void;
}

/** What admission decided. */
export type AdmissionResult = { ok: true; ticket: Ticket } | { ok: false; error: SockwardenError };

/** What admission needs from the hub to act on a user's live connections. */
export interface AdmissionHost {
  /** Probes a user's connections and removes those that do not answer; returns how many went. */
  probeUser(user: string): Promise<number>;
  /** Evicts the user's oldest live connection; false when there is none. */
  evictOldest(user: string): boolean;
  /** Ends the user's session that has been without a socket longest; false when there is none. */
  dropLongestDetached(user: string): boolean;
}

/** The admission pipeline; see the module comment. */
export class Admission {
  /** Set when the gateway drains: every new upgrade is refused. */
  draining = false;
  private readonly connectBuckets = new Map<string, TokenBucket>();
  private readonly pendingSessions = new Map<string, number>();
  private readonly queue: SlotQueue;
  private nextConn = 0;

  constructor(
    private readonly config: CoreConfig,
    private readonly engine: Engine,
    private readonly registry: Registry,
    private readonly pressure: PressureMonitor,
    private readonly host: AdmissionHost,
    scope: Scope,
    private readonly telemetry: Telemetry,
    private readonly now: () => number,
  ) {
    this.queue = new SlotQueue(scope, config.maxQueuedUpgrades);
  }

  /** Upgrades waiting in the per-user queue. */
  get queuedUpgrades(): number {
    return this.queue.size;
  }

  /** Decides on one upgrade. Never throws; refusals carry a code, a status and maybe a retry hint. */
  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const subject = { ip: request.ip, ...(request.sessionId ? { session: request.sessionId } : {}) };
    const refuse = (
      code: ErrorCode,
      message?: string,
      retryAfterMs?: number,
      user?: string,
    ): AdmissionResult => {
      this.telemetry.admission(code, user === undefined ? subject : { ...subject, user });
      return {
        ok: false,
        error: new SockwardenError(code, message, retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    };
    if (this.draining) return refuse('draining', undefined, this.config.drainTimeoutMs);
    const { allowedOrigins } = this.config;
    if (
      allowedOrigins.length > 0 &&
      request.origin !== undefined &&
      !allowedOrigins.includes(request.origin)
    ) {
      return refuse('origin_not_allowed', `origin ${JSON.stringify(request.origin)} is not allowed`);
    }
    const bucket = this.connectBucket(request.ip);
    if (!bucket.take(this.now())) {
      return refuse('connect_rate_limited', undefined, bucket.msUntilToken(this.now()));
    }
    let principal: Principal;
    try {
      const authenticated = request.authenticate();
      // A synchronous authenticator keeps the whole admission in one turn of the event loop.
      principal = authenticated instanceof Promise ? await authenticated : authenticated;
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : 'authentication failed';
      return refuse('unauthenticated', message);
    }
    const user = principal.user;
    const sessionId = request.sessionId ?? crypto.randomUUID();
    const identity = createIdentity(user, sessionId, request.ip, `c${(++this.nextConn).toString(36)}`);
    // A session this node does not hold may be on another: move it here before deciding, so that
    // the decision below sees it as a resume. Anything but an admission gives it back.
    const store = this.engine.sessions;
    const claimed =
      store && request.sessionId !== undefined && !this.registry.sessions.has(identity.sessionKey)
        ? ((await store.claim(user, sessionId)) ?? undefined)
        : undefined;
    const result = await this.decide(request, principal, identity, claimed, subject, refuse);
    if (!result.ok) claimed?.abandon();
    return result;
  }

  private async decide(
    request: AdmissionRequest,
    principal: Principal,
    identity: Identity,
    claimed: ClaimedSession | undefined,
    subject: { ip: string; session?: string },
    refuse: (code: ErrorCode, message?: string, retryAfterMs?: number, user?: string) => AdmissionResult,
  ): Promise<AdmissionResult> {
    const user = principal.user;
    let probed = false;
    let evicting = true;
    let engineEvicts = false;
    const deadline = this.now() + this.config.queueTimeoutMs;
    for (;;) {
      if (this.draining) return refuse('draining', undefined, this.config.drainTimeoutMs, user);
      if (request.signal.aborted)
        return refuse('bad_request', 'the client went away during admission', undefined, user);
      const existing = this.registry.sessions.get(identity.sessionKey);
      const resuming = existing !== undefined || claimed !== undefined;
      const level = this.pressure.update();
      if (!resuming && (level === 'shedding' || level === 'critical')) {
        return refuse(
          'shedding',
          'under pressure: new sessions are refused, resumes are admitted',
          jitter(5_000),
          user,
        );
      }
      const reserving = this.engine.reserve({
        user,
        ip: request.ip,
        replacing: existing?.attached?.open || claimed?.wasAttached ? 1 : 0,
        evictOldest: engineEvicts,
      });
      // A synchronous engine keeps check, reservation and session count in one step with no await.
      const pending = reserving instanceof Promise ? await reserving : reserving;
      if (pending.ok) {
        // Still in the same synchronous step as the reservation: nothing can interleave here.
        if (
          !existing &&
          this.registry.sessionsOf(user).size + (this.pendingSessions.get(user) ?? 0) >=
            this.config.maxSessionsPerUser
        ) {
          pending.lease.release();
          if (this.host.dropLongestDetached(user)) continue;
          return refuse(
            'session_limit',
            `user holds ${this.config.maxSessionsPerUser} sessions`,
            undefined,
            user,
          );
        }
        const ticket = this.ticket(
          identity,
          principal,
          pending.lease,
          request,
          existing === undefined,
          claimed,
        );
        const store = this.engine.sessions;
        if (!existing && !claimed && store) {
          // This node's count was checked above, in the same step as the reservation; the
          // cluster's is decided in the store, atomically, with the ticket already counted here.
          const place = await store.admit(user, identity.session, this.config.maxSessionsPerUser);
          if (!place) {
            ticket.abandon();
            return refuse(
              'session_limit',
              `user holds ${this.config.maxSessionsPerUser} sessions across the cluster, none of them detached`,
              undefined,
              user,
            );
          }
          ticket.onAbandon(() => place.cancel());
        }
        this.telemetry.admission('admitted', { ...subject, user });
        return { ok: true, ticket };
      }
      if (pending.code !== 'user_limit') {
        const retry = pending.code === 'ip_limit' ? undefined : jitter(5_000);
        return refuse(pending.code, undefined, retry, user);
      }
      if (!probed) {
        probed = true;
        // The step the production incidents lacked: zombies hold slots until someone asks them.
        if ((await this.host.probeUser(user)) > 0) continue;
      }
      // Zombies first; then a shared engine evicts the user's oldest connection on whichever node
      // holds it, in the same step as the reservation. If it cannot, the oldest here goes.
      if (this.config.perUserPolicy === 'evict-oldest' && this.engine.shared && !engineEvicts) {
        engineEvicts = true;
        continue;
      }
      if (this.config.perUserPolicy === 'evict-oldest' && evicting) {
        if (this.host.evictOldest(user)) continue;
        evicting = false;
      }
      if (this.config.perUserPolicy !== 'queue') {
        return refuse(
          'user_limit',
          `user holds ${this.config.maxConnectionsPerUser} connections`,
          undefined,
          user,
        );
      }
      const remaining = deadline - this.now();
      // A slot freed on another node wakes nobody here: with a shared engine, ask again every poll.
      const waitMs = this.engine.shared ? Math.min(remaining, SHARED_QUEUE_POLL_MS) : remaining;
      const outcome = await this.queue.wait(user, waitMs, request.signal);
      if (outcome === 'timeout' && waitMs < remaining) continue;
      if (outcome === 'timeout') return refuse('queue_timeout', undefined, jitter(1_000), user);
      if (outcome === 'full') return refuse('queue_full', undefined, jitter(1_000), user);
    }
  }

  /** Drops every queued upgrade, for drain. */
  rejectQueued(): void {
    this.queue.abortAll();
  }

  private ticket(
    identity: Identity,
    principal: Principal,
    inner: SlotLease,
    request: AdmissionRequest,
    isNew: boolean,
    claimed: ClaimedSession | undefined,
  ): Ticket {
    const user = identity.user;
    let released = false;
    const lease: SlotLease = {
      release: () => {
        if (released) return;
        released = true;
        inner.release();
        this.queue.slotFreed(user);
      },
      ...(inner.onRevoke ? { onRevoke: (listener: () => void) => inner.onRevoke?.(listener) } : {}),
    };
    if (isNew) this.pendingSessions.set(user, (this.pendingSessions.get(user) ?? 0) + 1);
    let pendingHeld = isNew;
    const consume = () => {
      if (!pendingHeld) return;
      pendingHeld = false;
      const left = (this.pendingSessions.get(user) ?? 1) - 1;
      if (left > 0) this.pendingSessions.set(user, left);
      else this.pendingSessions.delete(user);
    };
    // A session claimed from another node goes back to the store if the upgrade fails.
    const undos: Array<() => void> = claimed ? [() => claimed.abandon()] : [];
    let resumeFailure: ResumeFailure | undefined;
    if (isNew && !claimed && request.sessionId !== undefined && (request.lastSeq ?? 0) > 0) {
      resumeFailure = this.registry.wasExpired(identity.sessionKey) ? 'expired' : 'unknown';
    }
    return {
      identity,
      principal,
      lease,
      lastSeq: request.lastSeq,
      resumeFailure,
      claimed,
      consume,
      abandon: () => {
        const wasPending = pendingHeld;
        consume();
        lease.release();
        // Only before the session opened: afterwards the session itself owns its place.
        if (wasPending) for (const undo of undos.splice(0)) undo();
      },
      onAbandon: (undo) => void undos.push(undo),
    };
  }

  private connectBucket(ip: string): TokenBucket {
    let bucket = this.connectBuckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(this.config.connectRatePerIp, this.now());
      this.connectBuckets.set(ip, bucket);
    }
    return bucket;
  }

  /**
   * Forgets full connect-rate buckets: they carry no information, so dropping them bounds the map by
   * recent activity. Called from the gateway's maintenance tick.
   */
  pruneConnectBuckets(): void {
    const now = this.now();
    for (const [ip, bucket] of this.connectBuckets) if (bucket.isFull(now)) this.connectBuckets.delete(ip);
  }
}

/** How often an upgrade queued on a shared engine asks again for a slot that may have freed elsewhere. */
const SHARED_QUEUE_POLL_MS = 250;

/** A delay between `ms` and twice `ms`, so refused clients do not come back in lockstep. */
function jitter(ms: number): number {
  return Math.round(ms + Math.random() * ms);
}
