/**
 * Composition root: builds the core from validated options and wires the ws transport, the
 * engine, metrics and logs to it. Policy lives in the core; this file only connects parts.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { pino } from 'pino';
import { Hub, type Target } from './core/hub.js';
import { ResourceLedger, Scope } from './core/scope.js';
import { toJson } from './core/session.js';
import { systemClock, TimerWheel, type WheelTimer } from './core/timer-wheel.js';
import { memoryEngine } from './engines/memory.js';
import { SockwardenError } from './errors.js';
import type { Gateway, GatewayFigures, GatewayOptions } from './gateway-api.js';
import { Governor, type GovernorConfig } from './governor/governor.js';
import { GatewayMetrics } from './observability/metrics.js';
import { HISTORY_SECONDS, StatsHistory } from './observability/stats-history.js';
import { observedTelemetry } from './observability/telemetry.js';
import { type GovernorOptions, resolveOptions, socketLimitsOf } from './options.js';
import { SESSION_ID_PATTERN } from './protocol.js';
import { proxyTrust } from './transports/client-address.js';
import { guardSockets } from './transports/socket-guard.js';
import { type Authenticator, refuseUpgrade, WsTransport } from './transports/ws.js';

export type { Gateway, GatewayFigures, GatewayOptions, SessionInfo } from './gateway-api.js';

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
