/**
 * `sockwarden serve`: the gateway standalone, with the HTTP API, metrics and health endpoints.
 * SIGTERM and SIGINT drain it and exit 0 once every resource is released; a second one exits 1 at
 * once.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
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
import { createHttpServer, type GatewayHttpServer } from '../server/http-server.js';
import { jwtAuthenticator } from '../server/jwt.js';
import type { Authenticator } from '../transports/ws.js';
import { boundedLogDestination } from './log-destination.js';
import { describeFlag, readServeConfig, type ServeConfig } from './serve-config.js';
import { FLAGS } from './serve-flags.js';
import { DRAIN_MESSAGE, type ListeningMessage, runPrimary } from './serve-workers.js';

function authenticatorFor(config: ServeConfig): Authenticator | undefined {
  if (config.jwtSecret !== undefined && config.jwtPublicKeyFile !== undefined) {
    throw new SockwardenError('invalid_config', 'pass either --jwt-secret or --jwt-public-key, not both', {
      field: 'jwt-secret',
    });
  }
  try {
    if (config.jwtSecret !== undefined) return jwtAuthenticator({ secret: config.jwtSecret });
    if (config.jwtPublicKeyFile !== undefined)
      return jwtAuthenticator({ publicKeyPem: readFileSync(config.jwtPublicKeyFile, 'utf8') });
  } catch (cause) {
    const flag = config.jwtSecret !== undefined ? '--jwt-secret' : '--jwt-public-key';
    throw new SockwardenError('invalid_config', `${flag}: ${(cause as Error).message}`, {
      field: flag.slice(2),
      cause,
    });
  }
  if (!config.insecure) {
    throw new SockwardenError(
      'invalid_config',
      'no authentication configured: pass --jwt-secret or --jwt-public-key (or --insecure, for development only)',
      { field: 'jwt-secret' },
    );
  }
  return undefined;
}

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
interface Built extends GatewayHttpServer {
  gateway: Gateway;
  demo: DemoBackend | undefined;
}

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
  const { server, dashboard } = createHttpServer(
    gateway,
    { apiKey: config.apiKey, openOnLoopback: config.insecure, metrics: config.metricsAuth },
    config.demo ? { '/': DEMO_PAGE } : {},
    // A worker's /metrics is the machine's, cached by the primary and in step with it (metrics-cache.ts).
    cluster.isWorker ? { metricsCacheMs: 0 } : {},
  );
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
  return { gateway, server, dashboard, demo };
}

/**
 * Listens on the configured host and port, then says where: on stdout for a user or a script, or to
 * the primary for a worker. A server that cannot listen releases what was built, then throws.
 */
async function listen(built: Built, config: ServeConfig, logger: Logger): Promise<void> {
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
  if (cluster.isWorker) {
    // The primary prints one line for the whole cluster once every worker listens.
    const listening: ListeningMessage = {
      sockwarden: 'listening',
      url: `http://${host}:${port}`,
      demo: config.demo,
    };
    process.send?.(listening);
  } else {
    process.stdout.write(`listening on http://${host}:${port}\n`);
    if (config.demo) process.stdout.write(`demo chat: http://${host}:${port}/\n`);
    process.stdout.write(`dashboard: http://${host}:${port}/dashboard\n`);
  }
  logger.info(
    { host: config.host, port, path: config.path, limits: gateway.config, engine: gateway.stats().engine },
    'sockwarden serving',
  );
}

/**
 * Waits for SIGTERM or SIGINT (or, in a worker, the primary's drain message), then drains: resolves
 * with 0 once every resource is released, 1 if any is left or the drain fails. A second signal
 * exits the process with 1 at once.
 */
function drainOnSignal({ gateway, server, dashboard, demo }: Built, logger: Logger): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // Asked twice, an operator wants the process gone now, not when the drain ends: its sockets
        // close with it, its clients resume elsewhere, and with Redis its leases expire by TTL.
        logger.warn({ signal }, 'second signal: exiting without finishing the drain');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'draining');
      server.close();
      gateway
        .close()
        .then(async () => {
          await demo?.close();
          // Viewers watched the drain; their streams end with it.
          dashboard.close();
          server.closeAllConnections();
          const leftover = Object.entries(gateway.stats().resources).filter(([, n]) => n !== 0);
          if (leftover.length > 0) logger.error({ leftover }, 'resources left after drain');
          resolve(leftover.length > 0 ? 1 : 0);
        })
        .catch((error: unknown) => {
          logger.error({ err: error }, 'drain failed');
          resolve(1);
        });
    };
    process.on('SIGTERM', stop);
    // A Ctrl-C in a terminal reaches every worker as well as the primary, which drains them itself;
    // a worker counting it too could take the primary's drain for a second signal and skip it, so
    // a worker only listens to SIGINT to keep its default action (exit at once) away.
    process.on('SIGINT', cluster.isWorker ? () => {} : stop);
    // A worker drains when its primary says so; asked twice, it is still one drain.
    process.on('message', (message: unknown) => {
      if ((message as typeof DRAIN_MESSAGE | undefined)?.sockwarden === DRAIN_MESSAGE.sockwarden && !stopping)
        stop('SIGTERM');
    });
  });
}

/** Runs the server until a signal drains it. Resolves with the process exit code. */
export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const config = readServeConfig(argv, env);
  const authenticate = authenticatorFor(config);
  // Logs go to stderr so that stdout carries only the "listening on" line scripts wait for.
  const logs = boundedLogDestination();
  const logger = pino({ name: 'sockwarden', level: config.logLevel }, logs.stream);
  logs.reportDropsTo(logger);
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
  const built = await buildServer(config, authenticate, logger);
  await listen(built, config, logger);
  return drainOnSignal(built, logger);
}
