/**
 * Composition root: builds the core from validated options and wires the ws transport, the
 * engine, metrics and logs to it. Policy lives in the core; this file only connects parts.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { type Logger, pino } from 'pino';
import type { EngineFactory } from './core/engine.js';
import { Hub, type Target } from './core/hub.js';
import { ResourceLedger, Scope } from './core/scope.js';
import { type Session, toJson } from './core/session.js';
import type { GatewayStats } from './core/stats.js';
import type { PressureLevel } from './core/telemetry.js';
import { type Clock, systemClock, TimerWheel, type WheelTimer } from './core/timer-wheel.js';
import { memoryEngine } from './engines/memory.js';
import { SockwardenError } from './errors.js';
import { Governor, type GovernorConfig, type UpstreamStats } from './governor/governor.js';
import { GatewayMetrics, type GatewayTotals } from './observability/metrics.js';
import {
  HISTORY_SECONDS,
  StatsHistory,
  type StatsLatest,
  type StatsPoint,
  type StatsSample,
} from './observability/stats-history.js';
import { observedTelemetry } from './observability/telemetry.js';
import {
  type GovernorOptions,
  type ResolvedConfig,
  resolveOptions,
  socketLimitsOf,
  type TunableOptions,
} from './options.js';
import { SESSION_ID_PATTERN } from './protocol.js';
import { proxyTrust } from './transports/client-address.js';
import { guardSockets } from './transports/socket-guard.js';
import { type Authenticator, refuseUpgrade, WsTransport } from './transports/ws.js';

/** Options of {@link createGateway}: every tunable limit, plus the parts an embedder plugs in. */
export interface GatewayOptions extends TunableOptions {
  /** Upgrade path for `attach`; default `/ws`. */
  path?: string;
  /** Decides who the peer is; required unless `insecure`. */
  authenticate?: Authenticator;
  /** Development only: the user id is taken from `?user=`. */
  insecure?: boolean;
  /** Where slots are counted; default the in-memory engine. */
  engine?: EngineFactory;
  /** A pino logger; default JSON to stdout at `SOCKWARDEN_LOG_LEVEL` or info. */
  logger?: Logger;
  /** Time source; tests pass a manual clock. */
  clock?: Clock;
}

/** What `sessions(user)` reports of each session. */
export interface SessionInfo {
  id: string;
  connected: boolean;
  seq: number;
}

/** A running gateway. */
export interface Gateway {
  /** The resolved, frozen limits. */
  readonly config: ResolvedConfig;
  /** The upstream governor: `gateway.governor.run(call, { owner })` for calls not made by a session. */
  readonly governor: Governor;
  /** The upgrade path `attach` listens on. */
  readonly path: string;
  /** The pino logger in use. */
  readonly logger: Logger;
  /**
   * Handles upgrades for `path` on an HTTP server, and guards its raw sockets: caps them in all and
   * per IP (`maxSockets`, `maxSocketsPerIp`) and keeps an error listener on the server, logging and
   * counting what it refuses and every server error. `close()` removes the guard and leaves only a
   * small upgrade listener that refuses `path` at once with 503 `draining` (an upgrade left to a
   * server with no listener would hang), holding nothing of the gateway.
   */
  attach(server: Server, options?: { path?: string }): void;
  /** Handles one upgrade, for frameworks that route upgrades themselves. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Calls `listener` with every session this node starts holding: new sessions, and sessions that
   * moved here from another node (a resume on the same node continues the session it already saw).
   */
  on(event: 'session', listener: (session: Session) => void): Gateway;
  /** Removes a listener. */
  off(event: 'session', listener: (session: Session) => void): Gateway;
  /**
   * Sends `data` to every session of `target` (or one); counts this node's sessions on a socket and
   * those only queued for resume. With a shared engine, every other node delivers to its own too.
   */
  publish(target: Target, data: unknown): { delivered: number; queued: number };
  /** Ends every session of `target` (or one) with close 4103, on every node; returns how many here. */
  disconnect(target: Target): number;
  /** A user's live sessions. */
  sessions(user: string): SessionInfo[];
  /** Readiness in O(1): false while draining or shedding. `/readyz` answers from it. */
  ready(): { ready: boolean; pressure: PressureLevel; draining: boolean };
  /** Current figures; `resources` is all zeros when idle and after `close()`. */
  stats(): GatewayFigures;
  /** Prometheus exposition text. */
  metrics(): Promise<string>;
  /** Cumulative counts since start (admissions, closes, zombies, evictions, cleanup latency). */
  totals(): Promise<GatewayTotals>;
  /** The last 15 minutes, one point per second, oldest first, and the newest sample in full. */
  history(): { points: StatsPoint[]; latest: StatsLatest | undefined };
  /** Calls `listener` with each new sample, once a second; returns the function that stops it. */
  onSample(listener: (sample: StatsSample) => void): () => void;
  /** Content type of `metrics()`. */
  readonly metricsContentType: string;
  /**
   * A scope that lives as long as the gateway, for work that belongs to no session (a backend's
   * disconnect events, for example). What it owns is counted and released by `close()`.
   */
  scope(name: string): Scope;
  /**
   * Registers work that must finish before `close()` disposes the gateway's scopes (the backend
   * bridge's disconnect events for the sessions the drain ended): awaited after the last session
   * ended, with the timer wheel still running, for at most what is left of `drainTimeoutMs`.
   * Returns a function that unregisters it.
   */
  beforeDispose(task: () => Promise<void>): () => void;
  /**
   * Starts a shutdown without closing anything yet: from now on `ready()` reports
   * `{ ready: false, draining: true }` (so `/readyz` answers 503 and a load balancer stops sending
   * traffic here), new upgrades are refused with 503 `draining` and a `Retry-After`, and queued
   * upgrades are refused; open sockets and their sessions carry on untouched until `close()`.
   * Idempotent; `close()` calls it itself. Call it first when the load balancer needs time to see
   * the node unready before its sockets close, or pass `delayMs` to `close()`.
   */
  beginShutdown(): void;
  /**
   * Drains and releases everything. `delayMs` (default 0) first waits that long after
   * {@link Gateway.beginShutdown} with every socket still open, for a load balancer to take the node
   * out; then every socket closes with 1012 and a reconnect hint spread over `drainMs` (default
   * `drainTimeoutMs`). With a shared engine, sessions are also held for up to `drainMs` after their
   * sockets closed, until other nodes claim them, so that their clients resume there with nothing
   * lost. Resolves once everything is released; the HTTP server is the caller's to close then.
   */
  close(options?: { drainMs?: number; delayMs?: number }): Promise<void>;
}

/** {@link GatewayStats} plus the governor's figures by upstream. */
export interface GatewayFigures extends GatewayStats {
  upstream: Record<string, UpstreamStats>;
}

/** The governor's settings from the flat, flag-friendly options. */
export function governorConfig(options: GovernorOptions): GovernorConfig {
  return {
    maxConcurrent: options.maxConcurrent,
    maxQueued: options.maxQueued,
    perSessionConcurrent: options.perSessionConcurrent,
    perSessionQueued: options.perSessionQueued,
    rate: { perSecond: options.ratePerSecond, burst: options.rateBurst },
    maxAttempts: options.maxAttempts,
    retryBudgetMs: options.retryBudgetMs,
    backoffBaseMs: options.backoffBaseMs,
    backoffCapMs: options.backoffCapMs,
    attemptTimeoutMs: options.attemptTimeoutMs,
    breaker: {
      consecutiveFailures: options.breakerConsecutiveFailures,
      failureRatio: options.breakerFailureRatio,
      windowMs: options.breakerWindowMs,
      minimumRequests: options.breakerMinimumRequests,
      halfOpenAfterMs: options.breakerHalfOpenAfterMs,
    },
  };
}

/** How often the gateway samples its figures into its history. */
const SAMPLE_MS = 1_000;

const LIBRARY_KEYS = ['path', 'authenticate', 'insecure', 'engine', 'logger', 'clock'] as const;

/**
 * What stays on an attached server after `close()`: upgrades to the gateway's path are refused at
 * once with 503 `draining`. A function of its own so that it holds the path and the server only,
 * never the closed gateway.
 */
function refuseAfterClose(server: Server, path: string, retryAfterMs: number) {
  return (req: IncomingMessage, socket: Duplex) => {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname === path)
      refuseUpgrade(socket, new SockwardenError('draining', 'the gateway is closed', { retryAfterMs }));
    else if (server.listenerCount('upgrade') === 1)
      refuseUpgrade(socket, new SockwardenError('not_found', `no WebSocket endpoint at ${pathname}`));
  };
}

function insecureAuthenticator(): Authenticator {
  return ({ url }) => {
    const user = url.searchParams.get('user');
    if (!user || user.length > 128)
      throw new Error('insecure mode: query parameter "user" (1 to 128 characters) is required');
    return { user };
  };
}

/** Creates a gateway. Throws `invalid_config` naming the option when an option is wrong; nothing starts then. */
export function createGateway(options: GatewayOptions = {}): Gateway {
  const tunables: Record<string, unknown> = { ...options };
  for (const key of LIBRARY_KEYS) delete tunables[key];
  const config = resolveOptions(tunables);
  const path = options.path ?? '/ws';
  if (!path.startsWith('/'))
    throw new SockwardenError(
      'invalid_config',
      `option 'path' must start with "/" (got ${JSON.stringify(path)})`,
      { field: 'path' },
    );
  if (!options.authenticate && !options.insecure) {
    throw new SockwardenError(
      'invalid_config',
      "option 'authenticate' is required (or 'insecure: true' for development only)",
      { field: 'authenticate' },
    );
  }
  const authenticate = options.authenticate ?? insecureAuthenticator();
  const logger =
    options.logger ?? pino({ name: 'sockwarden', level: process.env.SOCKWARDEN_LOG_LEVEL ?? 'info' });
  if (options.insecure && !options.authenticate)
    logger.warn(
      'INSECURE MODE: user ids are taken from ?user= without authentication. Never use this in production.',
    );

  const events = new EventEmitter();
  const metrics = new GatewayMetrics();
  const telemetry = observedTelemetry(metrics, logger);
  const wheel = new TimerWheel({
    tickMs: config.timerTickMs,
    clock: options.clock ?? systemClock,
    onError: (e) => telemetry.failure('timer', e),
  });
  const ledger = new ResourceLedger();
  const root = Scope.root('gateway', ledger, wheel, (e) => telemetry.failure('dispose', e));
  const heapLimit = config.heapLimitBytes || getHeapStatistics().heap_size_limit;
  const governor = new Governor(governorConfig(config.governor), () => wheel.now(), metrics.upstream);
  const beforeDispose = new Set<() => Promise<void>>();
  const core = new Hub({
    config,
    engine: options.engine ?? memoryEngine(),
    wheel,
    ledger,
    root,
    telemetry,
    heap: () => ({ used: getHeapStatistics().used_heap_size, limit: heapLimit }),
    onSession: (session) => events.emit('session', session),
    runUpstream: (call, owner, upstream) =>
      governor.run(call, upstream === undefined ? { owner } : { owner, upstream }),
    beforeDispose: () => Promise.allSettled([...beforeDispose].map(async (task) => task())),
  });
  const figures = (): GatewayFigures => ({ ...core.stats(), upstream: governor.stats() });
  metrics.collectFrom(figures);
  // One trust for the transport and the socket guard, so both agree on who is a proxy.
  const addressing = { trust: proxyTrust(config.trustProxy), ipv6PrefixLength: config.ipv6PrefixLength };
  const transport = new WsTransport(core, authenticate, addressing);
  const history = new StatsHistory(HISTORY_SECONDS, (error) => telemetry.failure('sample', error));
  // On the wheel directly, like the hub's maintenance tick: the gateway's own sampling is not a
  // client-owned resource, so it stays out of the ledger. close() cancels it.
  let sampling: WheelTimer | null = null;
  const sample = () => {
    sampling = wheel.schedule(SAMPLE_MS, sample);
    metrics
      .totals()
      .then((totals) => history.add(wheel.now(), figures(), totals))
      .catch((error: unknown) => telemetry.failure('sample', error));
  };
  sampling = wheel.schedule(SAMPLE_MS, sample);
  const detachers: Array<() => void> = [];
  let closing: Promise<void> | null = null;

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    transport.handleUpgrade(req, socket, head).catch((error: unknown) => {
      telemetry.failure('upgrade', error);
      refuseUpgrade(socket, new SockwardenError('bad_request', 'the upgrade could not be handled'));
    });
  };

  const gateway: Gateway = {
    config,
    governor,
    path,
    logger,
    attach(server, attachOptions = {}) {
      const attachPath = attachOptions.path ?? path;
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        const pathname = (req.url ?? '/').split('?', 1)[0];
        if (pathname === attachPath) handleUpgrade(req, socket, head);
        else if (server.listenerCount('upgrade') === 1) {
          refuseUpgrade(
            socket,
            new SockwardenError('not_found', `no WebSocket endpoint at ${pathname}; use ${attachPath}`),
          );
        }
      };
      server.on('upgrade', onUpgrade);
      detachers.push(guardSockets(server, socketLimitsOf(config), telemetry, addressing));
      detachers.push(() => {
        server.off('upgrade', onUpgrade);
        server.on('upgrade', refuseAfterClose(server, attachPath, config.drainTimeoutMs));
      });
    },
    handleUpgrade,
    on(event, listener) {
      events.on(event, listener);
      return gateway;
    },
    off(event, listener) {
      events.off(event, listener);
      return gateway;
    },
    publish(target, data) {
      return core.publish(checkTarget(target, 'publish'), toJson(data));
    },
    disconnect(target) {
      return core.disconnect(checkTarget(target, 'disconnect'));
    },
    sessions(user) {
      return core
        .sessionsOf(user)
        .map((s) => ({ id: s.id, connected: s.attached?.open ?? false, seq: s.seq }));
    },
    scope: (name) => root.child(name, { permanent: true }),
    beforeDispose(task) {
      beforeDispose.add(task);
      return () => void beforeDispose.delete(task);
    },
    ready: () => core.readiness(),
    stats: figures,
    metrics: () => metrics.render(),
    totals: () => metrics.totals(),
    history: () => ({ points: history.points(), latest: history.latest() }),
    onSample: (listener) => history.subscribe(listener),
    get metricsContentType() {
      return metrics.contentType;
    },
    beginShutdown() {
      core.stopAdmitting();
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        const delayMs = closeOptions.delayMs ?? 0;
        if (delayMs > 0) {
          core.stopAdmitting();
          logger.info({ delayMs }, 'shutting down: not ready, sockets stay open until the delay ends');
          // On the wheel like the sampling: the gateway's own wait, not a client-owned resource.
          await new Promise<void>((resolve) => wheel.schedule(delayMs, resolve));
        }
        // Upgrades keep reaching admission while draining, so they get 503 draining rather than a 404.
        await core.drain(closeOptions.drainMs);
        sampling?.cancel();
        sampling = null;
        for (const detach of detachers.splice(0)) detach();
        transport.close();
        events.removeAllListeners();
        logger.info({ resources: ledger.snapshot() }, 'gateway drained');
      })();
      return closing;
    },
  };
  return gateway;
}

/**
 * Checks a publish or disconnect target from application code, which TypeScript does not always
 * guard (plain JS, parsed input): `{ session }` without `user`, or `null`, used to reach the hub and
 * throw a raw TypeError. A bad target is a `bad_request` naming the field, like the HTTP API's.
 */
function checkTarget(target: unknown, method: string): Target {
  if (typeof target !== 'object' || target === null || Array.isArray(target))
    throw new SockwardenError('bad_request', `${method}: the target must be an object { user, session? }`, {
      field: 'target',
    });
  const { user, session } = target as { user?: unknown; session?: unknown };
  if (typeof user !== 'string' || user.length === 0 || user.length > 128)
    throw new SockwardenError(
      'bad_request',
      `${method}: target.user must be a string of 1 to 128 characters`,
      {
        field: 'user',
      },
    );
  if (session !== undefined && (typeof session !== 'string' || !SESSION_ID_PATTERN.test(session)))
    throw new SockwardenError('bad_request', `${method}: target.session must match [A-Za-z0-9_-]{1,64}`, {
      field: 'session',
    });
  return target as Target;
}
