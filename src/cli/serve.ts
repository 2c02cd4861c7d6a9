/**
 * `sockwarden serve`: the gateway standalone, with the HTTP API, metrics and health endpoints, over
 * TLS with `--tls-cert` and `--tls-key`. Signals (drain, shutdown delay, TLS reload) are handled in
 * serve-signals.ts.
 */
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import { type DemoBackend, startDemoBackend } from '../demo/backend.js';
import { DEMO_PAGE } from '../demo/page.js';
import { redisEngine } from '../engines/redis.js';
import { SockwardenError } from '../errors.js';
import { createGateway, type Gateway } from '../gateway.js';
import { joinMetricsCluster } from '../observability/cluster-metrics.js';
import { resolveOptions } from '../options.js';
import { attachBackendBridge, checkBackendUrl } from '../server/backend-bridge.js';
import { createHttpServer } from '../server/http-server.js';
import type { Authenticator } from '../transports/ws.js';
import { boundedLogDestination } from './log-destination.js';
import { dashboardNotice, serveAuthenticator } from './serve-auth.js';
import { describeFlag, readServeConfig, type ServeConfig } from './serve-config.js';
import { FLAGS } from './serve-flags.js';
import { drainOnSignal, reloadTlsOnSighup, type ServerParts } from './serve-signals.js';
import { type ListeningMessage, runPrimary } from './serve-workers.js';
import { loadTlsAtStart, type TlsMaterial } from './tls.js';

/** Rewrites an option error so it names the flag, env variable and file key a server user types. */
function inServeTerms(error: SockwardenError): SockwardenError {
  const flag = FLAGS.find((f) => f.option === error.field);
  if (!flag) return error;
  return new SockwardenError('invalid_config', `${describeFlag(flag)}: ${error.message}`, {
    field: flag.name,
    cause: error,
  });
}

/** What `serve` runs: the gateway, its HTTP server and dashboard, and the demo backend if any. */
type Built = ServerParts;

/**
 * Lets go of what {@link buildServer} opened (the Redis connection, the gateway's timers, the demo
 * backend), for a server that never got to listen: its process would never exit otherwise.
 */
async function release({ dashboard, demo, gateway }: Omit<Built, 'server'>): Promise<void> {
  dashboard.close();
  await demo?.close();
  await gateway.close();
}

/**
 * Builds the gateway and its HTTP server from the resolved config, with the demo backend and the
 * backend bridge when asked for. Nothing listens yet; on failure, what was opened is released.
 */
async function buildServer(
  config: ServeConfig,
  authenticate: Authenticator | undefined,
  tls: TlsMaterial | undefined,
  logger: Logger,
): Promise<Built> {
  if (config.backendUrl !== undefined) checkBackendUrl(config.backendUrl);
  let gateway: Gateway;
  try {
    gateway = createGateway({
      ...config.options,
      path: config.path,
      logger,
      ...(authenticate ? { authenticate } : { insecure: true }),
      ...(config.redis === undefined
        ? {}
        : {
            engine: redisEngine({
              url: config.redis,
              keyPrefix: config.redisPrefix,
              leaseTtlMs: config.redisLeaseTtlMs,
              maxConnections: config.redisMaxConnections,
              failOpen: config.redisFail === 'open',
            }),
          }),
    });
  } catch (error) {
    throw error instanceof SockwardenError ? inServeTerms(error) : error;
  }
  if (config.apiKey === undefined) {
    logger.warn(
      config.insecure
        ? 'no --api-key: the HTTP API is open to loopback callers only'
        : 'no --api-key: the HTTP API is disabled',
    );
  }
  // The demo backend is an ordinary backend on its own port; the gateway only learns its URL.
  let demo: DemoBackend | undefined;
  const { server, dashboard, secure } = createHttpServer(
    gateway,
    { apiKey: config.apiKey, openOnLoopback: config.insecure, metrics: config.metricsAuth },
    config.demo ? { '/': DEMO_PAGE } : {},
    // A worker's /metrics is the machine's, cached by the primary and in step with it (metrics-cache.ts).
    cluster.isWorker ? { metricsCacheMs: 0 } : {},
    tls,
  );
  if (tls) logger.info({ certificate: tls.certificate }, 'serving TLS');
  try {
    if (config.demo && config.backendUrl === undefined) {
      demo = await startDemoBackend({
        ...(config.backendSecret ? { secret: config.backendSecret } : {}),
        logger,
      });
    }
    const backendUrl = config.backendUrl ?? demo?.url;
    if (backendUrl !== undefined) {
      attachBackendBridge(gateway, {
        url: backendUrl,
        events: config.backendEvents,
        logger,
        ...(config.backendSecret === undefined ? {} : { secret: config.backendSecret }),
      });
    }
  } catch (error) {
    await release({ dashboard, demo, gateway });
    throw error;
  }
  return { gateway, server, dashboard, secure, demo };
}

/**
 * Listens on the configured host and port, then, once `ready()` has armed the signal handlers, says
 * where: on stdout for a user or a script, or to the primary for a worker. A server that cannot
 * listen releases what was built, then throws.
 */
async function listen(built: Built, config: ServeConfig, logger: Logger, ready: () => void): Promise<void> {
  const { server, gateway } = built;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    await release(built);
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const scheme = built.secure ? 'https' : 'http';
  // Whoever reads the line may signal at once: without the handlers, SIGTERM's default would kill
  // the process instead of draining it.
  ready();
  if (cluster.isWorker) {
    // The primary prints one line for the whole cluster once every worker listens.
    const listening: ListeningMessage = {
      sockwarden: 'listening',
      url: `${scheme}://${host}:${port}`,
      demo: config.demo,
      dashboard: dashboardNotice(config, `${scheme}://${host}:${port}`),
    };
    process.send?.(listening);
  } else {
    process.stdout.write(`listening on ${scheme}://${host}:${port}\n`);
    if (config.demo) process.stdout.write(`demo chat: ${scheme}://${host}:${port}/\n`);
    process.stdout.write(`${dashboardNotice(config, `${scheme}://${host}:${port}`)}\n`);
  }
  logger.info(
    { host: config.host, port, path: config.path, limits: gateway.config, engine: gateway.stats().engine },
    'sockwarden serving',
  );
}

/** Runs the server until a signal drains it. Resolves with the process exit code. */
export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = readServeConfig(argv, env);
  const authenticate = serveAuthenticator(config);
  // Logs go to stderr so that stdout carries only the "listening on" line scripts wait for.
  const logs = boundedLogDestination();
  const logger = pino({ name: 'sockwarden', level: config.logLevel }, logs.stream);
  logs.reportDropsTo(logger);
  // Read here in the primary too, so that a bad file exits 2 once rather than fail every worker.
  const tls = loadTlsAtStart(config.tls);
  if (config.workers > 1 && cluster.isPrimary) {
    // Every option is checked here, once, so that a mistake exits 2 with one message instead of
    // N workers failing the same way.
    try {
      resolveOptions(config.options);
    } catch (error) {
      throw error instanceof SockwardenError ? inServeTerms(error) : error;
    }
    return runPrimary(config.workers, logger);
  }
  // Before the gateway exists, so that its metrics join the machine's (cluster-metrics.ts).
  if (cluster.isWorker) joinMetricsCluster();
  let built: Built | undefined;
  reloadTlsOnSighup(config.tls, () => built, logger);
  built = await buildServer(config, authenticate, tls, logger);
  const server = built;
  let drained: Promise<number> | undefined;
  await listen(server, config, logger, () => {
    drained = drainOnSignal(server, config.shutdownDelayMs, logger);
  });
  return drained as Promise<number>;
}
