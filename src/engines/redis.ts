/**
 * The Redis engine: per-user and per-IP limits that hold across every gateway node sharing one Redis.
 * Each admitted connection holds a lease in Redis with a TTL; its node extends all of its leases in
 * one round trip per refresh tick, on the gateway's timer wheel. Release deletes the lease in the
 * close handler (invariant I1), and a node that dies stops refreshing, so its leases expire and its
 * users' slots come back within the TTL and one tick.
 *
 * The node's own cap (`maxConnections`) and a local copy of every lease it holds are kept by an
 * in-process memory engine. When Redis cannot answer, the engine is degraded: admission falls back
 * to those local limits (fail open, the default) or refuses with `engine_unavailable` (fail closed),
 * and the refresh re-registers every lease once Redis is back.
 *
 * Publishes and disconnects reach every node through one pub/sub channel; each node applies them to
 * the sessions it holds. Sessions live in Redis too (redis-sessions.ts), so a client resumes on
 * whichever node it reaches.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type {
  Engine,
  EngineCounts,
  EngineFactory,
  EngineHost,
  RemoteOperation,
  SlotDecision,
  SlotLease,
  SlotLimits,
  SlotRequest,
} from '../core/engine.js';
import { memoryEngine } from './memory.js';
import { checkRedisEngineOptions, DEFAULT_LEASE_TTL_MS, type RedisEngineOptions } from './redis-options.js';
import { RedisRouter } from './redis-router.js';
import { REFRESH, RELEASE, RESERVE } from './redis-scripts.js';
import { RedisSessionStore } from './redis-sessions.js';

interface Held {
  readonly userKey: string;
  readonly ipKey: string;
  readonly agesKey: string;
  readonly local: SlotLease;
  /** Closes the connection when another node evicts it. */
  revoked?: () => void;
}

type ScriptedRedis = Redis & {
  swReserve(...args: Array<string | number>): Promise<[string, string]>;
  swRelease(...args: Array<string | number>): Promise<number>;
  swRefresh(...args: Array<string | number>): Promise<number>;
};

/** See the module comment. */
export class RedisEngine implements Engine {
  readonly name = 'redis';
  readonly shared = true;
  /** This node's id: the prefix of its lease ids and the name of its liveness key. */
  readonly nodeId = randomUUID();
  private readonly redis: ScriptedRedis;
  private readonly router: RedisRouter;
  /** Sessions in Redis, resumable on every node. */
  readonly sessions: RedisSessionStore;
  private readonly local: Engine;
  private readonly held = new Map<string, Held>();
  private readonly ttlMs: number;
  private readonly prefix: string;
  private nextLease = 0;
  private refreshing: { cancel(): boolean } | null = null;
  private closed = false;
  private startedUp = false;
  private startup: Promise<void> | null = null;
  private readonly commandTimeoutMs: number;
  private readonly failOpen: boolean;
  private readonly clusterCap: number;
  /** True while Redis cannot answer and admission runs on local limits. */
  degraded = false;

  constructor(
    private readonly limits: SlotLimits,
    private readonly host: EngineHost,
    options: RedisEngineOptions,
  ) {
    this.ttlMs = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.prefix = options.keyPrefix ?? 'sockwarden:';
    this.local = memoryEngine()(limits, host);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
    this.failOpen = options.failOpen ?? true;
    this.clusterCap = options.maxConnections ?? 0;
    // No offline queue: while Redis is away a command fails at once and admission falls back,
    // rather than every upgrade waiting on a queue nobody bounds.
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: this.commandTimeoutMs,
    }) as ScriptedRedis;
    this.redis.defineCommand('swReserve', { numberOfKeys: 5, lua: RESERVE });
    this.redis.defineCommand('swRelease', { numberOfKeys: 4, lua: RELEASE });
    this.redis.defineCommand('swRefresh', { numberOfKeys: 3, lua: REFRESH });
    // ioredis reconnects by itself; an unhandled 'error' event would crash the process.
    this.redis.on('error', (error: unknown) => this.degrade(error));
    this.redis.on('ready', () => void this.refresh());
    this.router = new RedisRouter(
      this.redis,
      `${this.prefix}route`,
      this.nodeId,
      host,
      {
        operation: (operation, from, n) => {
          this.sessions.observe(operation, from, n, false);
          host.deliver(operation);
        },
        claim: (message, from) => this.sessions.onClaim(message, from),
        revoke: (lease) => this.held.get(lease)?.revoked?.(),
        drop: (user, session) => host.dropDetached(user, session),
        handed: (message, from, n) => this.sessions.onHanded(message, from, n),
      },
      (error) => this.degrade(error),
    );
    this.sessions = new RedisSessionStore(this.redis, this.router, host, {
      nodeId: this.nodeId,
      prefix: this.prefix,
      // A dead node's sessions stay resumable for a resume window after its last refresh.
      ttlMs: host.replay.resumeWindowMs + this.ttlMs,
      handOverWaitMs: options.handOverWaitMs ?? 2 * this.commandTimeoutMs,
      maxMessages: host.replay.maxMessages,
      maxBytes: host.replay.maxBytes,
      unavailable: () => this.degraded,
      onError: (error) => this.degrade(error),
    });
    this.scheduleRefresh();
  }

  relay(operation: RemoteOperation): void {
    this.router.send(operation).catch((error: unknown) => this.degrade(error));
    this.sessions.observe(operation, this.nodeId, this.router.lastSent, true);
  }

  /** Resolves once the connection to Redis is up and this node hears the routing channel. */
  async whenReady(): Promise<void> {
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve) => this.redis.once('ready', () => resolve()));
    }
    await this.router.subscribed;
  }

  /**
   * Right after start, upgrades wait for the first connection to Redis, once and for at most one
   * command timeout: deciding on local limits only because Redis had not answered yet would let a
   * user past the cluster's limit on every node that just started.
   */
  private firstConnection(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.host.schedule(this.commandTimeoutMs, resolve);
      void this.whenReady().then(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  async reserve(request: SlotRequest): Promise<SlotDecision> {
    // The node's cap and a local copy first: the local counts are a subset of the cluster's, so
    // anything they refuse the cluster would refuse too.
    const local = await this.local.reserve(request);
    if (!local.ok) return local;
    const id = `${this.nodeId}:${(this.nextLease++).toString(36)}`;
    const held: Held = {
      userKey: `${this.prefix}u:${request.user}`,
      ipKey: `${this.prefix}ip:${request.ip}`,
      agesKey: `${this.prefix}ua:${request.user}`,
      local: local.lease,
    };
    if (!this.startedUp) {
      this.startup ??= this.firstConnection().then(() => {
        this.startedUp = true;
      });
      await this.startup;
    }
    if (!this.degraded) {
      try {
        const [verdict, evicted] = await this.redis.swReserve(
          this.leasesKey,
          held.userKey,
          held.ipKey,
          held.agesKey,
          this.revokedKey,
          id,
          this.ttlMs,
          this.limits.maxConnectionsPerUser,
          this.limits.maxConnectionsPerIp,
          request.replacing,
          this.clusterCap,
          request.evictOldest ? '1' : '0',
        );
        if (verdict !== 'ok') {
          local.lease.release();
          return {
            ok: false,
            code: verdict === 'ip_limit' || verdict === 'cluster_full' ? verdict : 'user_limit',
          };
        }
        if (evicted !== '') this.revoke(evicted);
      } catch (error) {
        this.degrade(error);
      }
    }
    if (this.degraded && !this.failOpen) {
      local.lease.release();
      return { ok: false, code: 'engine_unavailable' };
    }
    this.held.set(id, held);
    return {
      ok: true,
      lease: {
        release: () => this.release(id),
        onRevoke: (listener) => {
          held.revoked = listener;
        },
      },
    };
  }

  /** Closes the connection of an evicted lease: here, or through the node that holds it. */
  private revoke(id: string): void {
    if (id.startsWith(`${this.nodeId}:`)) this.held.get(id)?.revoked?.();
    else this.router.send({ kind: 'revoke', lease: id }).catch((error: unknown) => this.degrade(error));
  }

  /** This node's figures; the cluster's are in Redis. */
  counts(top: number): EngineCounts {
    return this.local.counts(top);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refreshing?.cancel();
    for (const id of [...this.held.keys()]) this.release(id);
    this.router.close();
    try {
      await this.redis.del(this.nodeKey);
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private get leasesKey(): string {
    return `${this.prefix}leases`;
  }

  private get revokedKey(): string {
    return `${this.prefix}revoked`;
  }

  private get nodeKey(): string {
    return `${this.prefix}node:${this.nodeId}`;
  }

  private release(id: string): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    held.local.release();
    // Sent now, in the close handler; if Redis cannot take it the lease expires on its own.
    this.redis
      .swRelease(this.leasesKey, held.userKey, held.ipKey, held.agesKey, id)
      .catch((error: unknown) => {
        this.degrade(error);
      });
  }

  private scheduleRefresh(): void {
    if (this.closed) return;
    this.refreshing = this.host.schedule(Math.floor(this.ttlMs / 3), () => {
      this.scheduleRefresh();
      void this.refresh();
    });
  }

  /** One round trip: extends every lease of this node and its liveness key. */
  private async refresh(): Promise<void> {
    if (this.closed || this.redis.status !== 'ready') return;
    const args: Array<string | number> = [this.ttlMs];
    for (const [id, held] of this.held) args.push(id, held.userKey, held.ipKey, held.agesKey);
    try {
      // Both scripts are written to the connection before either answer is awaited: one round trip.
      await Promise.all([
        this.redis.swRefresh(this.leasesKey, this.nodeKey, this.revokedKey, ...args),
        this.sessions.refresh(),
      ]);
      if (this.degraded) {
        this.degraded = false;
        this.host.degradedChanged(false);
      }
    } catch (error) {
      this.degrade(error);
    }
  }

  /**
   * Reports the error that started an outage, once: while Redis is away every admission, close,
   * publish and reconnect attempt fails, and one log line each would bury the logs. The degraded
   * gauge and the log line on each change say the rest.
   */
  private degrade(error: unknown): void {
    // After close, failures are of commands cut by the engine's own disconnect, not an outage.
    if (this.degraded || this.closed) return;
    this.degraded = true;
    this.host.failure(error);
    this.host.degradedChanged(true);
  }
}

/** Limits across every node on one Redis. `createGateway({ engine: redisEngine({ url }) })`. */
export function redisEngine(options: RedisEngineOptions): EngineFactory {
  checkRedisEngineOptions(options);
  return (limits, host) => new RedisEngine(limits, host, options);
}

export { DEFAULT_LEASE_TTL_MS, type RedisEngineOptions };
