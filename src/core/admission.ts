/**
 * Admission at the upgrade, before any WebSocket exists (invariant I4). First the gate: draining,
 * origin, per-IP connect rate, authentication, and the claim of a session another node holds.
 * Then the place: pressure (new sessions are shed), the slot (node, per-IP and per-user caps,
 * reserved by the engine in one step), the user's session count, and the session's place in the
 * cluster. At the per-user cap, the at-limit path (user-limit.ts) runs before refusing: zombie
 * probe, then the policy (evict the oldest, wait in the queue, or refuse). Every limit is checked and reserved in
 * one synchronous step after the last await, so concurrent upgrades cannot overshoot.
 */
import { type ErrorCode, SockwardenError } from '../errors.js';
import type { CoreConfig } from './config.js';
import { ConnectRate } from './connect-rate.js';
import type { Engine, SlotLease } from './engine.js';
import { createIdentity, type Identity } from './identity.js';
import type { PressureMonitor } from './pressure.js';
import type { Registry } from './registry.js';
import type { Scope } from './scope.js';
import type { ClaimedSession } from './session-store.js';
import { SlotQueue } from './slot-queue.js';
import type { Telemetry } from './telemetry.js';
import { issueTicket, PendingSessions, type Principal, type Ticket } from './ticket.js';
import { type AdmissionHost, jitter, type UserLimitParts, UserLimitPath } from './user-limit.js';

/** One upgrade to decide on. */
export interface AdmissionRequest {
  /** The client's address, as logs and the connection's identity show it. */
  ip: string;
  /**
   * What per-IP limits (connect rate, connections per IP) count it under: an IPv6 client by its
   * prefix, since one host holds a whole one. Default `ip`.
   */
  ipKey?: string;
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

/** What admission decided. */
export type AdmissionResult = { ok: true; ticket: Ticket } | { ok: false; error: SockwardenError };

/** Everything admission is built from. */
export interface AdmissionParts {
  config: CoreConfig;
  engine: Engine;
  registry: Registry;
  pressure: PressureMonitor;
  host: AdmissionHost;
  /** Owns the queue's timers. */
  scope: Scope;
  telemetry: Telemetry;
  now(): number;
}

/** What a refusal may say besides its code. */
interface RefusalDetails {
  message?: string;
  retryAfterMs?: number;
  /** The user, once authentication said who it is. */
  user?: string;
}

/** One upgrade under decision: what it asked for and who it turned out to be. */
interface Candidate {
  readonly request: AdmissionRequest;
  readonly principal: Principal;
  readonly identity: Identity;
  readonly claimed: ClaimedSession | undefined;
  readonly refuse: (code: ErrorCode, details?: RefusalDetails) => AdmissionResult;
}

/** Try the reservation again: a session place was made by dropping a detached session. */
const AGAIN = Symbol('again');

/** The admission pipeline; see the module comment. */
export class Admission {
  /** Set when the gateway drains: every new upgrade is refused. */
  draining = false;
  private readonly config: CoreConfig;
  private readonly engine: Engine;
  private readonly registry: Registry;
  private readonly connectRate: ConnectRate;
  private readonly pendingSessions = new PendingSessions();
  private readonly queue: SlotQueue;
  private readonly userLimit: UserLimitParts;
  private nextConn = 0;

  constructor(private readonly parts: AdmissionParts) {
    this.config = parts.config;
    this.engine = parts.engine;
    this.registry = parts.registry;
    this.queue = new SlotQueue(
      parts.scope,
      parts.config.maxQueuedUpgrades,
      parts.config.maxQueuedUpgradesPerUser,
    );
    this.connectRate = new ConnectRate(parts.config.connectRatePerIp);
    this.userLimit = {
      config: parts.config,
      shared: parts.engine.shared,
      host: parts.host,
      queue: this.queue,
      now: parts.now,
    };
  }

  /**
   * The hint for an upgrade refused while draining: a few seconds, jittered. The load balancer may
   * still send clients here during a shutdown delay while other nodes are healthy; a flat hint of
   * the whole drain window made every one of them wait it out and come back together.
   */
  private drainingRetryMs(): number {
    return jitter(Math.min(this.config.drainTimeoutMs, DRAINING_RETRY_MS));
  }

  /** Upgrades waiting in the per-user queue. */
  get queuedUpgrades(): number {
    return this.queue.size;
  }

  /** Decides on one upgrade. Never throws; refusals carry a code, a status and maybe a retry hint. */
  async admit(request: AdmissionRequest): Promise<AdmissionResult> {
    const subject = { ip: request.ip, ...(request.sessionId ? { session: request.sessionId } : {}) };
    const refuse = (code: ErrorCode, details: RefusalDetails = {}): AdmissionResult => {
      const { user, message, retryAfterMs } = details;
      this.parts.telemetry.admission(code, user === undefined ? subject : { ...subject, user });
      return {
        ok: false,
        error: new SockwardenError(code, message, retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    };
    if (this.draining) return refuse('draining', { retryAfterMs: this.drainingRetryMs() });
    const { allowedOrigins } = this.config;
    if (
      allowedOrigins.length > 0 &&
      request.origin !== undefined &&
      !allowedOrigins.includes(request.origin)
    ) {
      return refuse('origin_not_allowed', {
        message: `origin ${JSON.stringify(request.origin)} is not allowed`,
      });
    }
    const untilToken = this.connectRate.take(request.ipKey ?? request.ip, this.parts.now());
    if (untilToken !== null) return refuse('connect_rate_limited', { retryAfterMs: untilToken });
    let principal: Principal;
    try {
      const authenticated = request.authenticate();
      // A synchronous authenticator keeps the whole admission in one turn of the event loop.
      principal = authenticated instanceof Promise ? await authenticated : authenticated;
    } catch (cause) {
      return refuse('unauthenticated', {
        message: cause instanceof Error ? cause.message : 'authentication failed',
      });
    }
    const user = principal.user;
    const sessionId = request.sessionId ?? crypto.randomUUID();
    const identity = createIdentity(user, sessionId, request.ip, `c${(++this.nextConn).toString(36)}`);
    const claiming = this.claim(request, identity);
    const claimed = claiming instanceof Promise ? await claiming : claiming;
    const result = await this.admitCandidate({
      request,
      principal,
      identity,
      claimed,
      refuse: (code, details = {}) => refuse(code, { ...details, user }),
    });
    if (!result.ok) claimed?.abandon();
    return result;
  }

  /**
   * A session this node does not hold may be on another: move it here before deciding, so that
   * the decision sees it as a resume. Anything but an admission gives it back.
   */
  private claim(
    request: AdmissionRequest,
    identity: Identity,
  ): ClaimedSession | undefined | Promise<ClaimedSession | undefined> {
    if (request.sessionId === undefined || this.registry.sessions.has(identity.sessionKey)) return undefined;
    const claiming = this.engine.sessions.claim(identity.user, identity.session);
    if (claiming instanceof Promise) return claiming.then((claimed) => claimed ?? undefined);
    return claiming ?? undefined;
  }

  /** Reserves a slot and a session place, taking the at-limit path as often as it frees one. */
  private async admitCandidate(candidate: Candidate): Promise<AdmissionResult> {
    const { request, identity, refuse } = candidate;
    let atLimit: UserLimitPath | undefined;
    for (;;) {
      if (this.draining) return refuse('draining', { retryAfterMs: this.drainingRetryMs() });
      if (request.signal.aborted) {
        return refuse('bad_request', { message: 'the client went away during admission' });
      }
      const existing = this.registry.sessions.get(identity.sessionKey);
      const resuming = existing !== undefined || candidate.claimed !== undefined;
      const level = this.parts.pressure.update();
      if (!resuming && (level === 'shedding' || level === 'critical')) {
        return refuse('shedding', {
          message: 'under pressure: new sessions are refused, resumes are admitted',
          retryAfterMs: jitter(5_000),
        });
      }
      const reserving = this.engine.reserve({
        user: identity.user,
        ip: request.ipKey ?? request.ip,
        replacing: existing?.attached?.open || candidate.claimed?.wasAttached ? 1 : 0,
        evictOldest: atLimit?.engineEvicts ?? false,
      });
      // A synchronous engine keeps check, reservation and session count in one step with no await.
      const decision = reserving instanceof Promise ? await reserving : reserving;
      if (decision.ok) {
        const outcome = await this.placeSession(candidate, decision.lease, existing === undefined);
        if (outcome === AGAIN) continue;
        return outcome;
      }
      if (decision.code !== 'user_limit') {
        return refuse(decision.code, decision.code === 'ip_limit' ? {} : { retryAfterMs: jitter(5_000) });
      }
      atLimit ??= new UserLimitPath(this.userLimit, identity.user, request.signal);
      const step = await atLimit.next();
      if (step !== 'again') {
        return refuse(step.refuse, { message: step.message, retryAfterMs: step.retryAfterMs });
      }
    }
  }

  /**
   * The slot is reserved: checks the user's session count in the same synchronous step (making
   * room by dropping the session detached longest), then takes the session's place in the cluster.
   */
  private async placeSession(
    candidate: Candidate,
    lease: SlotLease,
    isNew: boolean,
  ): Promise<AdmissionResult | typeof AGAIN> {
    const { identity, claimed, refuse } = candidate;
    const user = identity.user;
    const max = this.config.maxSessionsPerUser;
    if (isNew && this.registry.sessionsOf(user).size + this.pendingSessions.count(user) >= max) {
      lease.release();
      if (this.parts.host.dropLongestDetached(user)) return AGAIN;
      return refuse('session_limit', { message: `user holds ${max} sessions` });
    }
    const ticket = this.ticket(candidate, lease, isNew);
    if (isNew && !claimed) {
      // This node's count was checked above, in the same step as the reservation; the cluster's is
      // decided in the store, atomically, with the ticket already counted here.
      const placing = this.engine.sessions.admit(user, identity.session, max);
      const place = placing instanceof Promise ? await placing : placing;
      if (!place) {
        ticket.abandon();
        return refuse('session_limit', {
          message: `user holds ${max} sessions across the cluster, none of them detached`,
        });
      }
      ticket.onAbandon(() => place.cancel());
    }
    // Counted as admitted once the socket opens (Hub.open): a handshake can still fail after this.
    return { ok: true, ticket };
  }

  /** Drops every queued upgrade, for drain. */
  rejectQueued(): void {
    this.queue.abortAll();
  }

  private ticket(candidate: Candidate, inner: SlotLease, isNew: boolean): Ticket {
    const { identity, principal, request, claimed } = candidate;
    const user = identity.user;
    let released = false;
    const lease: SlotLease = {
      release: () => {
        if (released) return;
        released = true;
        inner.release();
        this.queue.slotFreed(user);
      },
      onRevoke: (listener) => inner.onRevoke(listener),
    };
    const asksAgain = isNew && !claimed && request.sessionId !== undefined && (request.lastSeq ?? 0) > 0;
    return issueTicket({
      identity,
      principal,
      lease,
      lastSeq: request.lastSeq,
      resumeFailure: asksAgain
        ? this.registry.wasExpired(identity.sessionKey)
          ? 'expired'
          : 'unknown'
        : undefined,
      claimed,
      pending: isNew ? this.pendingSessions.hold(user) : undefined,
    });
  }

  /** Forgets full connect-rate buckets; called from the gateway's maintenance tick. */
  pruneConnectBuckets(): void {
    this.connectRate.prune(this.parts.now());
  }
}

/** The base of the retry hint while draining; see Admission.drainingRetryMs. */
const DRAINING_RETRY_MS = 5_000;
