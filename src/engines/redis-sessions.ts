/**
 * Sessions that resume on any node: the session-store port on Redis. Each session has an owner key
 * (the node holding it) and a stream of the frames it sent (redis-sent-frames.ts: bounded like the
 * replay ring, by frames and bytes, and trimmed on acks). Both expire after the resume window plus
 * the lease TTL unless their node refreshes them on its refresh tick, so a dead node's sessions
 * stay resumable for a resume window and then go away on their own.
 *
 * A claim moves a session here: one script makes this node the owner and names the old holder; a
 * claim message on the routing channel asks the holder to close its socket (4100), end the session
 * there and answer once everything it sent is in the stream. The claim message is the ordering
 * point (see redis-router.ts): publishes the holder saw before it are in the stream, and those after
 * it are collected here until the session opens, so the client gets each message exactly once.
 */
import type { Redis } from 'ioredis';
import type { EngineHost, RemoteOperation } from '../core/engine.js';
import { sessionKeyOf } from '../core/identity.js';
import type { ClaimedSession, SessionPlace, SessionStore } from '../core/session-store.js';
import { messageFrame } from '../protocol.js';
import { PendingClaim } from './redis-claim.js';
import type { ClaimMessage, HandedMessage, RedisRouter } from './redis-router.js';
import { CLAIM_SESSION, END_SESSION, REFRESH_SESSIONS } from './redis-scripts.js';
import { RedisSentFrames } from './redis-sent-frames.js';
import { RedisUserSessions } from './redis-user-sessions.js';

type SessionRedis = Redis & {
  swClaimSession(...args: Array<string | number>): Promise<[string, number]>;
  swEndSession(...args: Array<string | number>): Promise<number>;
  swRefreshSessions(...args: Array<string | number>): Promise<number>;
};

/** Settings of a {@link RedisSessionStore}. */
export interface RedisSessionSettings {
  nodeId: string;
  prefix: string;
  /** Lifetime of a session's keys without a refresh. */
  ttlMs: number;
  /** Longest wait for the old holder's answer before reading the stream anyway. */
  handOverWaitMs: number;
  /** Frames kept per session, as the replay ring keeps them; also bounds a claim's buffer. */
  maxMessages: number;
  /** Bytes of frames kept per session, as the replay ring keeps them. */
  maxBytes: number;
  /** True while Redis is away: no claims then. */
  unavailable(): boolean;
  /** A Redis command failed. */
  onError(error: unknown): void;
}

/** See the module comment. */
export class RedisSessionStore implements SessionStore {
  /** Sessions held here, by session key. */
  private readonly held = new Map<string, { user: string; session: string }>();
  private readonly pending = new Map<string, PendingClaim>();
  /** Sessions whose frames Redis missed during an outage: forgotten there, so no node replays a gap. */
  private readonly broken = new Map<string, boolean>();
  private readonly redis: SessionRedis;
  private readonly users: RedisUserSessions;
  /** The Redis copy of each session's sent frames. */
  private readonly frames: RedisSentFrames;

  constructor(
    redis: Redis,
    private readonly router: RedisRouter,
    private readonly host: EngineHost,
    private readonly settings: RedisSessionSettings,
  ) {
    redis.defineCommand('swClaimSession', { numberOfKeys: 1, lua: CLAIM_SESSION });
    redis.defineCommand('swEndSession', { numberOfKeys: 4, lua: END_SESSION });
    redis.defineCommand('swRefreshSessions', { numberOfKeys: 0, lua: REFRESH_SESSIONS });
    this.redis = redis as SessionRedis;
    this.users = new RedisUserSessions(redis, settings.prefix, settings.ttlMs, settings.onError);
    this.frames = new RedisSentFrames(redis, settings.prefix, settings.ttlMs, settings);
  }

  async admit(user: string, session: string, max: number): Promise<SessionPlace | null> {
    const place: SessionPlace = { cancel: () => this.users.cancel(user, session) };
    if (this.settings.unavailable()) return { cancel: () => {} };
    try {
      const { ok, dropped } = await this.users.admit(user, session, max);
      if (!ok) return null;
      if (dropped !== '') {
        if (this.held.has(sessionKeyOf(user, dropped))) this.host.dropDetached(user, dropped);
        else
          this.router
            .send({ kind: 'drop', user, session: dropped })
            .catch((error: unknown) => this.settings.onError(error));
      }
      return place;
    } catch (error) {
      this.settings.onError(error);
      return { cancel: () => {} };
    }
  }

  detached(user: string, session: string): void {
    if (!this.broken.has(sessionKeyOf(user, session))) this.users.detached(user, session);
  }

  reattached(user: string, session: string): void {
    this.users.reattached(user, session);
  }

  async claim(user: string, session: string): Promise<ClaimedSession | null> {
    const key = sessionKeyOf(user, session);
    // Two upgrades for one session on this node: the second waits, then resumes what the first opened.
    for (let p = this.pending.get(key); p; p = this.pending.get(key)) await p.settled;
    if (this.held.has(key) || this.settings.unavailable()) return null;
    const claim = new PendingClaim(user, session);
    this.pending.set(key, claim);
    try {
      const { nodeId, ttlMs, prefix } = this.settings;
      const [holder, alive] = await this.redis.swClaimSession(
        this.ownerKey(key),
        nodeId,
        ttlMs,
        `${prefix}node:`,
      );
      if (holder === '') {
        this.settle(key, claim);
        return null;
      }
      claim.holder = holder;
      claim.awaitAnswer = alive === 1 && holder !== nodeId;
      claim.sent = true;
      this.router
        .send({ kind: 'claim', id: claim.id, user, session, holder })
        .catch((error: unknown) => this.settings.onError(error));
      await this.waitFor(claim);
      return await this.read(key, claim);
    } catch (error) {
      this.settings.onError(error);
      this.settle(key, claim);
      return null;
    }
  }

  opened(user: string, session: string, adopted: boolean): void {
    const key = sessionKeyOf(user, session);
    this.held.set(key, { user, session });
    this.broken.delete(key);
    const pipeline = this.redis.pipeline();
    // A new session starts its stream at 1: whatever an earlier session of this id left must go.
    if (!adopted) pipeline.del(this.frames.keyOf(key));
    pipeline.set(this.ownerKey(key), this.settings.nodeId, 'PX', this.settings.ttlMs);
    pipeline.exec().catch((error: unknown) => this.failed(key, error));
    // It may have been waiting without a socket on the node it came from.
    if (adopted) this.users.reattached(user, session);
  }

  sent(user: string, session: string, seq: number, frame: string): void {
    const key = sessionKeyOf(user, session);
    if (!this.broken.has(key)) this.append(key, seq, frame);
  }

  acked(user: string, session: string, seq: number): void {
    const key = sessionKeyOf(user, session);
    if (this.broken.has(key)) return;
    this.frames.trimAcked(key, seq).catch((error: unknown) => this.failed(key, error));
  }

  ended(user: string, session: string, keep: boolean): void {
    const key = sessionKeyOf(user, session);
    this.held.delete(key);
    this.broken.delete(key);
    if (keep) return;
    this.redis
      .swEndSession(...this.endKeys(key, user), this.settings.nodeId, session)
      .catch((error: unknown) => this.settings.onError(error));
  }

  /**
   * Collects a publish or disconnect for sessions being claimed here: `local` when this node sent
   * it (after its claim, so the old holder will not apply it), otherwise from the channel (after
   * the claim's echo).
   */
  observe(operation: RemoteOperation, from: string, n: number, local: boolean): void {
    for (const claim of this.pending.values()) {
      if (!(local ? claim.sent : claim.echoed) || !claim.targets(operation)) continue;
      if (claim.buffer.length >= this.settings.maxMessages) {
        // Bounded like the replay ring: the oldest falls out, as it would have from the ring.
        claim.buffer.shift();
      }
      claim.buffer.push({ from, n, operation });
    }
  }

  /** A claim on the channel: the echo of this node's own, or one this node must answer. */
  onClaim(message: ClaimMessage, from: string): void {
    const key = sessionKeyOf(message.user, message.session);
    const pending = this.pending.get(key);
    if (from === this.settings.nodeId) {
      if (pending?.id !== message.id) return;
      pending.echoed = true;
      if (pending.ready) pending.wake?.();
      return;
    }
    if (message.holder !== this.settings.nodeId) return;
    if (pending) pending.claimedBy = message;
    else this.answer(message);
  }

  /** The old holder's answer to a claim of this node. */
  onHanded(message: HandedMessage, from: string, n: number): void {
    for (const claim of this.pending.values()) {
      if (claim.id !== message.id || claim.holder !== from) continue;
      claim.answeredAt = n;
      claim.attached = message.attached;
      if (claim.ready) claim.wake?.();
    }
  }

  /**
   * Extends every session held here, in one script call sent at once (the engine pipelines it with
   * the lease refresh); run on the engine's refresh tick.
   */
  async refresh(): Promise<void> {
    const { ttlMs, nodeId } = this.settings;
    const args: Array<string | number> = [ttlMs, nodeId];
    for (const [key, { user, session }] of this.held) {
      if (!this.broken.has(key)) args.push(...this.endKeys(key, user), session);
    }
    await this.redis.swRefreshSessions(...args);
    for (const [key, forgotten] of this.broken) {
      if (forgotten) continue;
      const { user, session } = this.held.get(key) ?? { user: '', session: '' };
      await this.redis.swEndSession(...this.endKeys(key, user), nodeId, session);
      this.broken.set(key, true);
    }
  }

  /** Ends the claimed session here and says so, after every frame it sent is on its way to Redis. */
  private answer(message: ClaimMessage): void {
    const { attached } = this.host.handOver(message.user, message.session);
    this.router
      .send({ kind: 'handed', id: message.id, attached })
      .catch((error: unknown) => this.settings.onError(error));
  }

  private waitFor(claim: PendingClaim): Promise<void> {
    if (claim.ready) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.host.schedule(this.settings.handOverWaitMs, () => {
        claim.wake = null;
        resolve();
      });
      claim.wake = () => {
        claim.wake = null;
        timer.cancel();
        resolve();
      };
    });
  }

  /** Reads the claimed session's frames: the contiguous run that ends at its last sequence number. */
  private async read(key: string, claim: PendingClaim): Promise<ClaimedSession> {
    const { latestSeq, frames } = await this.frames.readTail(key);
    let settled = false;
    return {
      latestSeq,
      frames,
      wasAttached: claim.attached,
      adopt: () => {
        if (settled) return { messages: [], disconnected: false };
        settled = true;
        const collected = claim.collected();
        this.settle(key, claim);
        return collected;
      },
      abandon: () => {
        if (settled) return;
        settled = true;
        // Kept for the next claim: written as the session would have sent them.
        let seq = latestSeq;
        for (const json of claim.collected().messages) {
          seq++;
          this.append(key, seq, messageFrame(seq, json));
        }
        this.settle(key, claim);
      },
    };
  }

  private settle(key: string, claim: PendingClaim): void {
    if (this.pending.get(key) === claim) this.pending.delete(key);
    claim.settle();
    const next = claim.claimedBy;
    // Answered on the next tick, once the session has opened here (or was abandoned).
    if (next) this.host.schedule(0, () => this.answer(next));
  }

  private append(key: string, seq: number, frame: string): void {
    this.frames.append(key, seq, frame).catch((error: unknown) => this.failed(key, error));
  }

  private failed(key: string, error: unknown): void {
    if (this.held.has(key) && !this.broken.has(key)) this.broken.set(key, false);
    this.settings.onError(error);
  }

  /** Owner key, stream, the user's sessions and the user's detached sessions. */
  private endKeys(key: string, user: string): [string, string, string, string] {
    return [
      this.ownerKey(key),
      this.frames.keyOf(key),
      this.users.sessionsKey(user),
      this.users.detachedKey(user),
    ];
  }

  private ownerKey(key: string): string {
    return `${this.settings.prefix}so:${key}`;
  }
}
